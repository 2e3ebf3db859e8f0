"""A Detector benchmarked through deal detect's own path (``deal benchmark``'s Python API).

The maps come from ``Detector.predict_many`` over windows of ``batch_size`` consecutive images decoded by
deal detect's loader, so they are bit-identical to ``deal detect``'s for the same images, detector, device
and batch size; the metric convention is the detector's own: pixel F1 at 0.5 and at its calibrated pixel
threshold side by side, and the image metrics of its verdict at its two image thresholds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from deal.data.sample import Record
from deal.evaluation.benchmark import run_benchmark
from deal.evaluation.perturb import Perturbation
from deal.imageio import load_any
from deal.inference.detector import Detector
from deal.modeling.constants import DEFAULT_BATCH_SIZE


class DetectorBatches:
    """The benchmark's predictor over the Detector's own path: each chunk of ``batch_size`` consecutive
    records is one deal detect window (Detector.predict_many)."""

    def __init__(self, detector: Detector, batch_size: int) -> None:
        self.detector = detector
        self.batch_size = batch_size

    def predict_batch(self, images: Sequence[np.ndarray]) -> list[tuple[np.ndarray, float]]:
        return [(d.heatmap, d.score) for d in self.detector.predict_many(images, batch_size=self.batch_size)]


def benchmark_detector(
    detector: Detector,
    datasets: Mapping[str, Sequence[Record]],
    perturbations: Sequence[Perturbation] = (),
    *,
    threshold: float | None = None,
    inverted_max: bool = False,
    border_band: bool = False,
    limit: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    seed: int = 0,
    weights: str = "",
    progress: bool = False,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """run_benchmark of `detector` with its own convention. threshold None: its calibrated pixel threshold.

    Returns (report, convention): the convention (threshold, image thresholds, F1 columns...) is returned so
    that other predictors (the predict-everything floor) can be scored under the same one.
    """
    calibrated = detector.threshold
    convention = {
        "threshold": calibrated if threshold is None else threshold,
        "inverted_max": inverted_max,
        "border_band": border_band,
        "image_thresholds": detector.image_thresholds,
        "f1_thresholds": {"pixel_f1@0.5": 0.5, "pixel_f1@calibrated": calibrated},
    }
    report = run_benchmark(
        DetectorBatches(detector, batch_size),
        datasets,
        perturbations,
        **convention,
        reader=lambda path: load_any(path, max_pixels=detector.max_pixels).array,
        limit=limit,
        batch_size=batch_size,
        seed=seed,
        device=str(detector.device),
        predictor_info={
            "name": detector.name,
            "sha256": detector.sha256,
            "weights": weights,
            "calibrated_threshold": calibrated,
            "image_thresholds": list(detector.image_thresholds),
        },
        progress=progress,
    )
    return report, convention
