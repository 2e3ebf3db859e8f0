"""Robustness benchmark: one predictor over every (dataset, perturbation, strength), plus "none".

The predictor is any callable ``predict(image) -> (probs, score)`` with ``image`` an ``HxWx3``
uint8 RGB array, ``probs`` an ``HxW`` float map in [0, 1] of the image's size and ``score`` a
float (None: deal.metrics.image_score of the map, the mean of its top 1%), or any object with
``predict_batch(images) -> [(probs, score)]``.
No model is needed to test it. Images are read with ``reader`` (default :func:`deal.data.io.read_image`;
``deal benchmark`` passes the Detector's own loader, so a map equals what ``deal detect`` writes) and
handed to the predictor in windows of ``batch_size`` consecutive records (``deal detect``'s windows).

The metric convention is one :class:`~deal.metrics.convention.MetricConvention`: pixel F1 at 0.5
(``pixel_f1``) and at its ``threshold`` (``pixel_f1_calibrated``) side by side, bootstrap intervals.

Objectness control: an edited record with an ``original`` (CoCoGlide ``real/``, DEAL-300K originals, a
manifest's original column) has its original's map (under the same perturbation) scored against the edited
image's mask (``pixel_auc_control``, ``pixel_auc_lift``, ...: :class:`~deal.metrics.LocalizationMetrics`
``controls``). Each image is predicted once per perturbation (:mod:`deal.evaluation.benchmark_plan`): an
original that is a record of the dataset serves as its authentic image and as the control from one forward
pass, and an original that is not a record is predicted once and counts as an authentic image too. A map of
another size than the mask is resized bilinearly to it (:func:`deal.modeling.input_policy.resize_map`).

Protocol: each image is read once; each perturbation is applied to it, the predictor runs on the
result, and the map is compared with the ORIGINAL ground truth: for ``resize`` the map is resized
back to the original size bilinearly. Noise is seeded per image from ``seed`` and the image's name,
so runs are reproducible whatever ``limit`` or the order. Throughput counts predictor time only
(not reading, perturbing or scoring), over every image handed to the predictor. Peak memory: CUDA
``max_memory_allocated`` on a CUDA device, else the process's max RSS. A map is kept in memory until every
image that needs it is scored (an edit whose original's record comes later keeps its map until then).

Failures: an image that cannot be read, or that the predictor fails on, is an error row of its own
(``errors`` in the report) and the run goes on (:mod:`deal.evaluation.benchmark_run`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from tqdm import tqdm

from deal.data.errors import DatasetError
from deal.data.io import read_image
from deal.data.sample import Record
from deal.evaluation.benchmark_plan import Window, plan_windows
from deal.evaluation.benchmark_run import BatchFn, DatasetRun
from deal.evaluation.ground_truth import read_ground_truth
from deal.evaluation.perturb import NONE, Perturbation
from deal.evaluation.plots import plot_metric_vs_strength
from deal.evaluation.report import markdown_table
from deal.evaluation.system import hardware_string, peak_memory, reset_peak_memory
from deal.fileio import atomic_write_text, write_json
from deal.metrics.convention import DEFAULT_CONVENTION, MetricConvention
from deal.metrics.keys import CONTROL_SENTENCE, INTERVAL_DEFINITION, METRIC_KEYS, metric_definitions

PredictFn = Callable[[np.ndarray], tuple[np.ndarray, float | None]]
HEADLINE_METRICS: tuple[str, ...] = ("pixel_f1", "pixel_auc")
# benchmark.md's two tables: localization (with the control and the lift), then image level and counts.
LOCALIZATION_COLUMNS: tuple[str, ...] = (
    "pixel_auc",
    "pixel_auc_control",
    "pixel_auc_lift",
    "pixel_f1_best",
    "pixel_f1_best_control",
    "pixel_f1_best_lift",
    "n_control",  # the paired images the control and the lifts average over
    "pixel_f1",
    "pixel_f1_calibrated",
    "pixel_mcc",
    "pixel_iou",
    "pixel_f1_dataset",
)
IMAGE_COLUMNS: tuple[str, ...] = tuple(k for k in METRIC_KEYS if k not in LOCALIZATION_COLUMNS)
ERROR_COLUMNS: tuple[str, ...] = ("dataset", "run", "image", "error")
RESIZE_PROTOCOL = (
    "resize: image resized by the factor, predicted map resized back bilinearly to the original size"
)


@runtime_checkable
class BatchPredictor(Protocol):
    def predict_batch(self, images: Sequence[np.ndarray]) -> Sequence[tuple[np.ndarray, float | None]]:
        """One ``(probs HxW float32 in [0,1], score)`` per ``HxWx3`` uint8 RGB image."""
        ...


def _batch_fn(predictor: PredictFn | BatchPredictor) -> BatchFn:
    if isinstance(predictor, BatchPredictor):
        return predictor.predict_batch
    if callable(predictor):
        return lambda images: [predictor(im) for im in images]
    raise TypeError(f"predictor must be callable or have predict_batch(), got {type(predictor).__name__}")


def run_benchmark(
    predictor: PredictFn | BatchPredictor,
    datasets: Mapping[str, Sequence[Record]],
    perturbations: Sequence[Perturbation] = (),
    *,
    convention: MetricConvention = DEFAULT_CONVENTION,
    control: bool = True,
    reader: Callable[[str], np.ndarray] = read_image,
    limit: int | None = None,
    batch_size: int = 1,
    seed: int = 0,
    device: str | None = None,
    predictor_info: Mapping[str, Any] | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Run ``predictor`` on every dataset under "none" and each perturbation; score each with
    :class:`~deal.metrics.LocalizationMetrics` under ``convention``.

    Args:
        predictor: see the module docstring.
        datasets: ``{name: records}``.
        perturbations: what to apply besides "none" (which always runs first).
        convention: the metric convention (thresholds, inversion, border band, bootstrap intervals).
        control: also score the originals of edited records that have one (the objectness control).
        reader: ``path -> HxWx3 uint8 RGB`` (default :func:`deal.data.io.read_image`).
        limit: at most this many records per dataset (the first ones).
        batch_size: records per ``predict_batch`` call.
        seed: base seed of the noise perturbation.
        device: the predictor's device, for the peak-memory count and the hardware string.
        predictor_info: stored as is in the report (name, weights hash, ...).

    Returns:
        The report dict (JSON-ready): ``convention``, ``settings``, ``hardware``, ``peak_memory``,
        ``results`` (one row per dataset x perturbation with ``metrics``, ``n_images`` (scored),
        ``n_errors``, ``n_predicted``, ``predict_seconds``, ``images_per_s``, ``predict_cpu_seconds``: the
        process's CPU time in the predictor, ``megapixels``: of the images it was given) and ``errors`` (one row per
        image that could not be read or predicted, per perturbation).
    """
    predict_batch = _batch_fn(predictor)
    perts = list(dict.fromkeys([NONE, *perturbations]))
    reset_peak_memory(device)
    start = time.perf_counter()
    runs: list[DatasetRun] = []
    for name, all_records in datasets.items():
        records = list(all_records)[:limit] if limit is not None else list(all_records)
        runs += _run_dataset(name, records, perts, predict_batch, convention, control, reader, batch_size, seed, progress)
    return {
        "command": "benchmark",
        "convention": convention.describe(),
        "settings": _settings(convention, control, limit, batch_size, seed, perts),
        "predictor": dict(predictor_info or {}),
        "device": str(device) if device is not None else "cpu",
        "hardware": hardware_string(device),
        "peak_memory": peak_memory(device),
        "total_seconds": time.perf_counter() - start,
        "results": [run.row() for run in runs],
        "errors": [error for run in runs for error in run.errors],
    }


def _run_dataset(
    name: str,
    records: list[Record],
    perts: list[Perturbation],
    predict_batch: BatchFn,
    convention: MetricConvention,
    control: bool,
    reader: Callable[[str], np.ndarray],
    batch_size: int,
    seed: int,
    progress: bool,
) -> list[DatasetRun]:
    """Every perturbation of one dataset, window by window (each image read once)."""
    plan = plan_windows(records, batch_size, control)
    runs = [DatasetRun(name, p, convention, plan.uses) for p in perts]
    for window in tqdm(plan.windows, desc=f"benchmark {name}", disable=not progress, unit="batch"):
        images, truths = _read_window(window, reader, runs)
        for run in runs:
            run.predict(predict_batch, window.records, images, seed)
            run.predict(predict_batch, window.originals, images, seed)
            run.score_ready([(item, truths.get(item.key, _NO_TRUTH)) for item in window.items])
    return runs


_NO_TRUTH = np.zeros((0, 0), np.uint8)  # the ground truth of an image that could not be read (never scored)


def _read_window(
    window: Window, reader: Callable[[str], np.ndarray], runs: list[DatasetRun]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The decoded images and ground truths of a window by key; one that cannot be read fails in every run."""
    images, truths = {}, {}
    for item in window.items:
        try:
            image = reader(item.path)
            truths[item.key] = read_ground_truth(item.ground_truth_record(), hw=image.shape[:2])
            images[item.key] = image
        except (DatasetError, OSError, ValueError) as err:
            for run in runs:
                run.fail(item, str(err))
    return images, truths


def _settings(
    convention: MetricConvention,
    control: bool,
    limit: int | None,
    batch_size: int,
    seed: int,
    perts: list[Perturbation],
) -> dict[str, Any]:
    return {
        **convention.to_dict(),
        "image_score": "the predictor's score (deal detect's for a detector; where a predictor gives none, "
        "the mean of the top 1% of its map)",
        "control": CONTROL_SENTENCE if control else "not run",
        "limit": limit,
        "batch_size": batch_size,
        "seed": seed,
        "perturbations": [p.label for p in perts],
        "protocol": RESIZE_PROTOCOL,
    }


def benchmark_markdown(report: Mapping[str, Any], plots: Sequence[tuple[str, str, str]] = ()) -> str:
    """The Markdown report: header (predictor, convention, hardware), the table, the plots.

    Args:
        report: what :func:`run_benchmark` returned.
        plots: ``(kind, metric, relative PNG path)`` to embed.
    """
    predictor = report.get("predictor") or {}
    title = predictor.get("name") or "predictor"
    peak = report["peak_memory"]
    lines = [
        f"# Benchmark: {title}",
        "",
        f"Convention: {report['convention']}.",
        "",
        f"Protocol: {report['settings']['protocol']}; noise seed {report['settings']['seed']}; "
        f"limit {report['settings']['limit'] or 'none'} images per dataset; image score: "
        f"{report['settings']['image_score']}.",
        "",
        f"Hardware: {report['hardware']}; peak memory {peak['bytes'] / 2**20:.0f} MiB ({peak['kind']}).",
    ]
    if predictor.get("sha256"):
        lines += ["", f"Weights sha256: `{predictor['sha256']}`"]
    threshold = report["settings"]["threshold"]
    shown = [*LOCALIZATION_COLUMNS, *IMAGE_COLUMNS]
    lines += [
        "",
        f"{CONTROL_SENTENCE}. F1@T, IoU, MCC, F1 dataset and false alarm at p > {threshold:g}"
        + (" (the detector's calibrated pixel threshold)." if predictor.get("calibrated_threshold") == threshold else "."),
        "",
        f"Columns: {metric_definitions(shown)}.",
        "",
        f"Cells with brackets: value [lo, hi], {INTERVAL_DEFINITION}.",
    ]
    table_rows = [
        {"dataset": r["dataset"], "perturbation": r["label"], **r["metrics"], "images_per_s": r["images_per_s"]}
        for r in report["results"]
    ]
    lines += ["", "## Localization", "", markdown_table(table_rows, ["dataset", "perturbation", *LOCALIZATION_COLUMNS])]
    lines += [
        "",
        "## Image level and counts",
        "",
        markdown_table(table_rows, ["dataset", "perturbation", *IMAGE_COLUMNS, "images_per_s"]),
    ]
    lines += _errors_section(report.get("errors") or [])
    if plots:
        lines += ["", "## Metrics against perturbation strength", ""]
        lines += [f"![{metric} vs {kind}]({rel})" for kind, metric, rel in plots]
    return "\n".join(lines) + "\n"


def _errors_section(errors: Sequence[Mapping[str, Any]]) -> list[str]:
    """benchmark.md's table of the images that could not be read or predicted (left out of the metrics)."""
    if not errors:
        return []
    rows = [{k: str(e.get(k, "")).replace("|", "/").replace("\n", " ") for k in ERROR_COLUMNS} for e in errors]
    return [
        "",
        "## Errors",
        "",
        f"{len(errors)} image(s) could not be read or predicted; each is left out of its run's metrics.",
        "",
        markdown_table(rows, list(ERROR_COLUMNS)),
    ]


def write_benchmark_report(report: Mapping[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Write ``benchmark.json``, ``benchmark.md`` and, for each perturbation kind with several
    strengths, ``plots/<kind>_<metric>.png`` for the :data:`HEADLINE_METRICS`; all atomically.

    Returns:
        ``{"json": path, "markdown": path, "<kind>_<metric>": png path, ...}``.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    strengths: dict[str, set[float]] = {}
    for r in report["results"]:
        if r["perturbation"] != "none":
            strengths.setdefault(r["perturbation"], set()).add(r["strength"])
    written: dict[str, Path] = {}
    plots = []
    for kind, values in strengths.items():
        if len(values) < 2:
            continue
        for metric in HEADLINE_METRICS:
            rel = f"plots/{kind}_{metric}.png"
            plot_metric_vs_strength(report["results"], kind, metric, out_dir / rel)
            written[f"{kind}_{metric}"] = out_dir / rel
            plots.append((kind, metric, rel))
    written["json"] = out_dir / "benchmark.json"
    write_json(written["json"], report)
    written["markdown"] = out_dir / "benchmark.md"
    atomic_write_text(written["markdown"], benchmark_markdown(report, plots))
    return written
