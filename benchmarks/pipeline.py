"""Is `deal detect` bounded by its model? Its images/s over the bare model forward on the same inputs.

detect_vs_forward() measures, in one process and on the same images:

- forward: the model's forward pass alone, on exactly the batches a `deal detect` run feeds it (the
  Detector's plan: windows of `batch_size` inputs, whole images and tiles batched by padded shape), with
  decoding, preprocessing, blending and output writing excluded from the clock;
- detect: deal.inference.run_detection end to end over the same files (decoding threads, the model,
  tiling, every default output written, records, results files), into a fresh folder.

ratio = detect images/s / forward images/s: 1.0 means the pipeline costs nothing beyond its model.

benchmark_vs_detect() measures `deal benchmark` (the same maps plus every metric) against `deal detect` on
one dataset's images: ratio = benchmark images/s / detect images/s.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from deal.imageio import load_any
from deal.inference.detector import Detector
from deal.inference.devices import autocast
from deal.modeling.constants import DEFAULT_BATCH_SIZE
from deal.runs.discovery import find_inputs
from deal.runs.folder import run_detection


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def forward_seconds(detector: Detector, paths: Sequence[Path], batch_size: int) -> tuple[float, int, int]:
    """Seconds of model forward over the batches a detect run of `paths` makes; (seconds, model inputs, batches)."""
    seconds, n_inputs, n_batches = 0.0, 0, 0
    for start in range(0, len(paths), batch_size):
        arrays = [load_any(p).array for p in paths[start : start + batch_size]]
        plan = detector.plan(arrays, batch_size)
        for batch in plan.batches:
            model_input, _ = detector.pipeline.to_batch([plan.pieces[j] for j in batch], detector.device)
            _sync(detector.device)
            t0 = time.perf_counter()
            with torch.inference_mode(), autocast(detector.device):
                detector.model(model_input)
            _sync(detector.device)
            seconds += time.perf_counter() - t0
            n_inputs += len(batch)
            n_batches += 1
    return seconds, n_inputs, n_batches


def detect_vs_forward(
    inputs: Sequence[str],
    detector: Detector,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int = 2,
    label: str = "",
) -> dict[str, Any]:
    """One row: forward and detect images/s on the images of `inputs` (files, folders, globs), and their ratio."""
    items, _, _ = find_inputs(list(inputs))
    paths = [item.path for item in items if item.problem is None]
    if not paths:
        raise ValueError(f"no readable images in {list(inputs)}")
    warm = [load_any(paths[0]).array]
    detector.heatmaps(warm, batch_size)  # one untimed pass: lazy initialisation out of both clocks
    fwd_s, n_model_inputs, n_batches = forward_seconds(detector, paths, batch_size)
    with tempfile.TemporaryDirectory(prefix="deal-speed-") as out:
        t0 = time.perf_counter()
        summary = run_detection(list(inputs), out, detector, batch_size=batch_size, workers=workers, quiet=True)
        detect_s = time.perf_counter() - t0
    n = len(paths)
    forward_ips, detect_ips = n / fwd_s, summary.n_processed / detect_s
    return {
        "row": "detect-vs-forward",
        "inputs": label or " ".join(inputs),
        "images": n,
        "model_inputs": n_model_inputs,
        "batches": n_batches,
        "batch": batch_size,
        "workers": workers,
        "forward_images_per_s": forward_ips,
        "detect_images_per_s": detect_ips,
        "ratio": detect_ips / forward_ips,
        "failed": summary.n_failed,
    }


def benchmark_vs_detect(
    dataset: str, detector: Detector, *, batch_size: int = DEFAULT_BATCH_SIZE, workers: int = 2
) -> dict[str, Any]:
    """One row: `deal benchmark` (maps through deal detect's path + every metric, exact best F1 and AUC
    included) and `deal detect` end to end, on the images of one dataset (NAME=PATH or PATH)."""
    from deal.evaluation.datasets import load_datasets, parse_dataset_specs
    from deal.evaluation.detector_benchmark import benchmark_detector

    datasets = load_datasets(parse_dataset_specs([dataset]))
    records = [r for recs in datasets.values() for r in recs]
    detector.heatmaps([load_any(records[0].image).array], batch_size)  # untimed warm-up
    t0 = time.perf_counter()
    # with the objectness control, as deal benchmark runs: an original that is a record (CoCoGlide real/) is
    # predicted once, so deal benchmark makes the same forward passes as deal detect on these images
    benchmark_detector(detector, datasets, batch_size=batch_size)
    benchmark_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory(prefix="deal-speed-") as out:
        t0 = time.perf_counter()
        summary = run_detection(
            [r.image for r in records], out, detector, batch_size=batch_size, workers=workers, quiet=True
        )
        detect_s = time.perf_counter() - t0
    n = len(records)
    benchmark_ips, detect_ips = n / benchmark_s, summary.n_processed / detect_s
    return {
        "row": "benchmark-vs-detect",
        "inputs": dataset,
        "images": n,
        "batch": batch_size,
        "workers": workers,
        "benchmark_images_per_s": benchmark_ips,
        "detect_images_per_s": detect_ips,
        "ratio": benchmark_ips / detect_ips,
        "failed": summary.n_failed,
    }
