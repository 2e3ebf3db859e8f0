"""Robustness benchmark: one predictor over every (dataset, perturbation, strength), plus "none".

The predictor is any callable ``predict(image) -> (probs, score)`` with ``image`` an ``HxWx3``
uint8 RGB array, ``probs`` an ``HxW`` float map in [0, 1] of the image's size and ``score`` a
float (None: the map's maximum), or any object with ``predict_batch(images) -> [(probs, score)]``.
No model is needed to test it. Images are read with ``reader`` (default :func:`deal.data.io.read_image`;
``deal benchmark`` passes the Detector's own loader, so a map equals what ``deal detect`` writes) and
handed to the predictor in chunks of ``batch_size`` consecutive records (``deal detect``'s windows).

Pixel F1 is reported at the convention's ``threshold`` (``pixel_f1``) and, side by side, at each of
``f1_thresholds`` (``{"pixel_f1@0.5": 0.5, "pixel_f1@calibrated": 0.13}``: labelled keys of the same
per-image F1, mean over edited images).

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
from deal.evaluation.perturb import NONE, Perturbation, restore_map
from deal.evaluation.plots import plot_metric_vs_strength
from deal.evaluation.report import COLUMN_TITLES, markdown_table
from deal.evaluation.system import hardware_string, peak_memory, reset_peak_memory
from deal.fileio import atomic_write_text, write_json
from deal.metrics import functional as MF
from deal.metrics.localization import METRIC_KEYS, LocalizationMetrics, one_cpu_thread

PredictFn = Callable[[np.ndarray], tuple[np.ndarray, float | None]]
HEADLINE_METRICS: tuple[str, ...] = ("pixel_f1", "pixel_auc")
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


class F1AtThresholds:
    """Per-image pixel F1 at several labelled thresholds, mean over edited images (NaN ones left out),
    computed as :class:`~deal.metrics.LocalizationMetrics` computes ``pixel_f1``."""

    def __init__(self, thresholds: Mapping[str, float], inverted_max: bool, border_band: bool) -> None:
        self.thresholds = dict(thresholds)
        self.inverted_max, self.border_band = inverted_max, border_band
        self.sums = dict.fromkeys(self.thresholds, 0.0)
        self.counts = dict.fromkeys(self.thresholds, 0)

    def update(self, probs: torch.Tensor, target: torch.Tensor, label: int) -> None:
        if label != 1:
            return
        gt = MF.binarize_target(target)
        with one_cpu_thread():
            for key, t in self.thresholds.items():
                f1 = float(
                    MF.pixel_f1(probs, gt, t, inverted_max=self.inverted_max, border_band=self.border_band)
                )
                if f1 == f1:  # not NaN
                    self.sums[key] += f1
                    self.counts[key] += 1

    def compute(self) -> dict[str, float]:
        return {k: self.sums[k] / self.counts[k] if self.counts[k] else float("nan") for k in self.thresholds}


def image_seed(seed: int, name: str) -> int:
    """The noise seed of one image: stable across runs, independent of order and ``limit``."""
    return (seed + zlib.crc32(name.encode("utf-8"))) % (2**32)


def run_benchmark(
    predictor: PredictFn | BatchPredictor,
    datasets: Mapping[str, Sequence[Record]],
    perturbations: Sequence[Perturbation] = (),
    *,
    threshold: float = 0.5,
    inverted_max: bool = False,
    border_band: bool = False,
    num_thresholds: int | None = None,
    image_thresholds: tuple[float, float] | None = None,
    f1_thresholds: Mapping[str, float] | None = None,
    reader: Callable[[str], np.ndarray] = read_image,
    limit: int | None = None,
    batch_size: int = 1,
    seed: int = 0,
    device: str | None = None,
    predictor_info: Mapping[str, Any] | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Run ``predictor`` on every dataset under "none" and each perturbation; score each with
    :class:`~deal.metrics.LocalizationMetrics`.

    Args:
        predictor: see the module docstring.
        datasets: ``{name: records}``.
        perturbations: what to apply besides "none" (which always runs first).
        threshold, inverted_max, border_band, num_thresholds, image_thresholds: the metric convention
            (image_thresholds: the verdict's (low, high) for image_bacc / image_inconclusive).
        f1_thresholds: ``{key: threshold}``: pixel F1 also at these, under these keys in each row.
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
    metric_args = {"num_thresholds": num_thresholds, "image_thresholds": image_thresholds}
    f1_thresholds = dict(f1_thresholds or {})
    convention = LocalizationMetrics(threshold, inverted_max, border_band, **metric_args)
    reset_peak_memory(device)
    start = time.perf_counter()
    rows = []
    for name, all_records in datasets.items():
        records = list(all_records)[:limit] if limit is not None else list(all_records)
        metrics = {p: LocalizationMetrics(threshold, inverted_max, border_band, **metric_args) for p in perts}
        f1s = {p: F1AtThresholds(f1_thresholds, inverted_max, border_band) for p in perts}
        seconds = dict.fromkeys(perts, 0.0)
        chunks = [records[i : i + batch_size] for i in range(len(records))[::batch_size]]
        for chunk in tqdm(chunks, desc=f"benchmark {name}", disable=not progress, unit="batch"):
            images = [reader(r.image) for r in chunk]
            gts = [read_ground_truth(r, hw=im.shape[:2]) for r, im in zip(chunk, images)]
            for p in perts:
                inputs = [p.apply(im, seed=image_seed(seed, r.name)) for r, im in zip(chunk, images)]
                t0 = time.perf_counter()
                outputs = list(predict_batch(inputs))
                seconds[p] += time.perf_counter() - t0
                if len(outputs) != len(inputs):
                    raise ValueError(
                        f"the predictor returned {len(outputs)} results for {len(inputs)} images"
                    )
                for r, x, gt, (probs, score) in zip(chunk, inputs, gts, outputs):
                    probs = restore_map(
                        _check_map(probs, x.shape[:2], f"{name}/{r.name} ({p.label})"), gt.shape
                    )
                    probs_t, gt_t = torch.from_numpy(probs), torch.from_numpy(gt)
                    metrics[p].update(
                        [probs_t], [gt_t], torch.tensor([r.label]), None if score is None else [float(score)]
                    )
                    f1s[p].update(probs_t, gt_t, r.label)
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
                    "metrics": {**metrics[p].compute(), **f1s[p].compute()},
                }
            )
    return {
        "command": "benchmark",
        "convention": convention.convention,
        "settings": {
            **convention.settings,
            "f1_thresholds": f1_thresholds,
            "image_score": "the predictor's score (the map's maximum where it returns None)",
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
    settings = report["settings"]
    threshold = settings["threshold"]
    f1_thresholds: dict[str, float] = settings.get("f1_thresholds") or {}
    if f1_thresholds:
        named = "; ".join(
            f"{COLUMN_TITLES.get(k, k)} at p > {t:g}"
            + (" (the detector's calibrated pixel threshold)" if k == "pixel_f1@calibrated" else "")
            for k, t in f1_thresholds.items()
        )
        lines += [
            "",
            f"Pixel F1 side by side: {named}. F1, IoU, F1 dataset and false alarm at p > {threshold:g}.",
        ]
    # pixel_f1 duplicates a labelled column at the same threshold: shown once.
    metric_columns = [k for k in METRIC_KEYS if not (k == "pixel_f1" and threshold in f1_thresholds.values())]
    table_rows = [
        {
            "dataset": r["dataset"],
            "perturbation": r["label"],
            **r["metrics"],
            "images_per_s": r["images_per_s"],
        }
        for r in report["results"]
    ]
    columns = ["dataset", "perturbation", *f1_thresholds, *metric_columns]
    lines += ["", markdown_table(table_rows, [*columns, "images_per_s"])]
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
