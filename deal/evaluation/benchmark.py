"""Robustness benchmark: one predictor over every (dataset, perturbation, strength), plus "none".

The predictor is any callable ``predict(image) -> (probs, score)`` with ``image`` an ``HxWx3``
uint8 RGB array, ``probs`` an ``HxW`` float map in [0, 1] of the image's size and ``score`` a
float (None: deal.metrics.image_score of the map, the mean of its top 1%), or any object with
``predict_batch(images) -> [(probs, score)]``.
No model is needed to test it. Images are read with ``reader`` (default :func:`deal.data.io.read_image`;
``deal benchmark`` passes the Detector's own loader, so a map equals what ``deal detect`` writes) and
handed to the predictor in chunks of ``batch_size`` consecutive records (``deal detect``'s windows).

The metric convention is one :class:`~deal.metrics.convention.MetricConvention`: pixel F1 at 0.5
(``pixel_f1``) and at its ``threshold`` (``pixel_f1_calibrated``) side by side, bootstrap intervals.

Objectness control: an edited record with an ``original`` (CoCoGlide ``real/``, DEAL-300K originals, a
manifest's original column) also has its original predicted (under the same perturbation, the same noise
seed), in one ``predict_batch`` call per chunk, and that map is scored against the edited image's mask
(``pixel_auc_control``, ``pixel_auc_lift``, ...: :class:`~deal.metrics.LocalizationMetrics` ``controls``).
An original of another size than the mask has its map resized bilinearly to the mask's size. Control
predictions are not counted in the throughput.

Protocol: each image is read once; each perturbation is applied to it, the predictor runs on the
result, and the map is compared with the ORIGINAL ground truth: for ``resize`` the map is resized
back to the original size bilinearly. Noise is seeded per image from ``seed`` and the image name,
so runs are reproducible whatever ``limit`` or the order. Throughput counts predictor time only
(not reading, perturbing or scoring). Peak memory: CUDA ``max_memory_allocated`` on a CUDA device,
else the process's max RSS.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from tqdm import tqdm

from deal.data.io import read_image
from deal.data.sample import Record
from deal.evaluation.ground_truth import read_ground_truth
from deal.evaluation.perturb import NONE, Perturbation
from deal.evaluation.plots import plot_metric_vs_strength
from deal.evaluation.report import markdown_table
from deal.evaluation.system import hardware_string, peak_memory, reset_peak_memory
from deal.fileio import atomic_write_text, write_json
from deal.metrics.convention import DEFAULT_CONVENTION, MetricConvention
from deal.metrics.functional import restore_map
from deal.metrics.keys import CONTROL_SENTENCE, INTERVAL_DEFINITION, METRIC_KEYS, metric_definitions
from deal.metrics.localization import LocalizationMetrics

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
    "pixel_f1",
    "pixel_f1_calibrated",
    "pixel_mcc",
    "pixel_iou",
    "pixel_f1_dataset",
)
IMAGE_COLUMNS: tuple[str, ...] = tuple(k for k in METRIC_KEYS if k not in LOCALIZATION_COLUMNS)
RESIZE_PROTOCOL = (
    "resize: image resized by the factor, predicted map resized back bilinearly to the original size"
)


@runtime_checkable
class BatchPredictor(Protocol):
    def predict_batch(self, images: Sequence[np.ndarray]) -> Sequence[tuple[np.ndarray, float | None]]:
        """One ``(probs HxW float32 in [0,1], score)`` per ``HxWx3`` uint8 RGB image."""
        ...


def _batch_fn(predictor: PredictFn | BatchPredictor) -> Callable[[list[np.ndarray]], Sequence[tuple]]:
    if isinstance(predictor, BatchPredictor):
        return predictor.predict_batch
    if callable(predictor):
        return lambda images: [predictor(im) for im in images]
    raise TypeError(f"predictor must be callable or have predict_batch(), got {type(predictor).__name__}")


def _check_map(probs: Any, hw: tuple[int, int], where: str) -> np.ndarray:
    probs = np.asarray(probs)
    if probs.shape != tuple(hw):
        raise ValueError(
            f"{where}: the predictor returned a {probs.shape} map for a {hw[0]}x{hw[1]} (HxW) input"
        )
    if not np.issubdtype(probs.dtype, np.floating):
        raise ValueError(f"{where}: the predictor returned a {probs.dtype} map; expected floats in [0, 1]")
    return probs.astype(np.float32, copy=False)


def image_seed(seed: int, name: str) -> int:
    """The noise seed of one image: stable across runs, independent of order and ``limit``."""
    return (seed + zlib.crc32(name.encode("utf-8"))) % (2**32)


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
        control: also predict the originals of edited records that have one (the objectness control).
        reader: ``path -> HxWx3 uint8 RGB`` (default :func:`deal.data.io.read_image`).
        limit: at most this many records per dataset (the first ones).
        batch_size: images per ``predict_batch`` call.
        seed: base seed of the noise perturbation.
        device: the predictor's device, for the peak-memory count and the hardware string.
        predictor_info: stored as is in the report (name, weights hash, ...).

    Returns:
        The report dict (JSON-ready): ``convention``, ``settings``, ``hardware``, ``peak_memory``,
        ``results`` (one row per dataset x perturbation with ``metrics``, ``n_images``,
        ``predict_seconds``, ``images_per_s``), ...
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    predict_batch = _batch_fn(predictor)
    perts = list(dict.fromkeys([NONE, *perturbations]))
    reset_peak_memory(device)
    start = time.perf_counter()
    rows = []
    for name, all_records in datasets.items():
        records = list(all_records)[:limit] if limit is not None else list(all_records)
        metrics = {p: LocalizationMetrics(convention=convention) for p in perts}
        seconds = dict.fromkeys(perts, 0.0)
        chunks = [records[i : i + batch_size] for i in range(len(records))[::batch_size]]
        for chunk in tqdm(chunks, desc=f"benchmark {name}", disable=not progress, unit="batch"):
            images = [reader(r.image) for r in chunk]
            gts = [read_ground_truth(r, hw=im.shape[:2]) for r, im in zip(chunk, images)]
            with_original = [i for i, r in enumerate(chunk) if control and r.label == 1 and r.original]
            originals = {i: reader(chunk[i].original) for i in with_original}
            for p in perts:
                inputs = [p.apply(im, seed=image_seed(seed, r.name)) for r, im in zip(chunk, images)]
                t0 = time.perf_counter()
                outputs = list(predict_batch(inputs))
                seconds[p] += time.perf_counter() - t0
                if len(outputs) != len(inputs):
                    raise ValueError(
                        f"the predictor returned {len(outputs)} results for {len(inputs)} images"
                    )
                controls: list[np.ndarray | None] = [None] * len(chunk)
                if with_original:  # the same perturbation and noise seed as the edited image
                    ctrl_in = [p.apply(originals[i], seed=image_seed(seed, chunk[i].name)) for i in with_original]
                    ctrl_out = list(predict_batch(ctrl_in))
                    for i, x, (probs, _) in zip(with_original, ctrl_in, ctrl_out):
                        where = f"{name}/{chunk[i].name} original ({p.label})"
                        controls[i] = restore_map(_check_map(probs, x.shape[:2], where), gts[i].shape)
                for r, x, gt, ctrl, (probs, score) in zip(chunk, inputs, gts, controls, outputs):
                    probs = restore_map(
                        _check_map(probs, x.shape[:2], f"{name}/{r.name} ({p.label})"), gt.shape
                    )
                    metrics[p].update(
                        [torch.from_numpy(probs)],
                        [torch.from_numpy(gt)],
                        torch.tensor([r.label]),
                        None if score is None else [float(score)],
                        controls=[None if ctrl is None else torch.from_numpy(ctrl)],
                    )
        for p in perts:
            rows.append(
                {
                    "dataset": name,
                    "perturbation": p.kind,
                    "strength": p.strength,
                    "label": p.label,
                    "n_images": len(records),
                    "predict_seconds": seconds[p],
                    "images_per_s": len(records) / seconds[p] if seconds[p] > 0 else float("nan"),
                    "metrics": metrics[p].compute(),
                }
            )
    return {
        "command": "benchmark",
        "convention": convention.describe(),
        "settings": {
            **convention.to_dict(),
            "image_score": "the predictor's score (deal detect's for a detector; where a predictor gives none, "
            "the mean of the top 1% of its map)",
            "control": CONTROL_SENTENCE if control else "not run",
            "limit": limit,
            "batch_size": batch_size,
            "seed": seed,
            "perturbations": [p.label for p in perts],
            "protocol": RESIZE_PROTOCOL,
        },
        "predictor": dict(predictor_info or {}),
        "device": str(device) if device is not None else "cpu",
        "hardware": hardware_string(device),
        "peak_memory": peak_memory(device),
        "total_seconds": time.perf_counter() - start,
        "results": rows,
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
    if plots:
        lines += ["", "## Metrics against perturbation strength", ""]
        lines += [f"![{metric} vs {kind}]({rel})" for kind, metric, rel in plots]
    return "\n".join(lines) + "\n"


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
