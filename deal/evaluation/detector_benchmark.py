"""A Detector benchmarked through deal detect's own path (``deal benchmark``'s Python API).

The maps come from ``Detector.predict_many`` over windows of ``batch_size`` consecutive images decoded by
deal detect's loader, so they equal ``deal detect``'s for the same images, detector, device and batch size
(an original of the objectness control that is a record is that record's map; the other originals run in
windows of their own of at most ``batch_size``);
the metric convention defaults to the detector's own (:func:`detector_convention`): pixel F1 at 0.5 and at
its calibrated pixel threshold side by side, and the image metrics of its verdict at its two image thresholds.
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
from deal.metrics.convention import MetricConvention
from deal.modeling.constants import DEFAULT_BATCH_SIZE


class DetectorBatches:
    """The benchmark's predictor over the Detector's own path: each chunk of ``batch_size`` consecutive
    records is one deal detect window (Detector.predict_many)."""

    def __init__(self, detector: Detector, batch_size: int) -> None:
        self.detector = detector
        self.batch_size = batch_size

    def predict_batch(self, images: Sequence[np.ndarray]) -> list[tuple[np.ndarray, float]]:
        return [(d.heatmap, d.score) for d in self.detector.predict_many(images, batch_size=self.batch_size)]


def detector_convention(detector: Detector, convention: MetricConvention | None = None) -> MetricConvention:
    """``convention`` with the detector's calibrated image thresholds, and its calibrated pixel threshold when
    ``convention`` is None (the default of ``deal benchmark``)."""
    base = MetricConvention(threshold=detector.threshold) if convention is None else convention
    return base.replace(image_thresholds=detector.image_thresholds)


def benchmark_detector(
    detector: Detector,
    datasets: Mapping[str, Sequence[Record]],
    perturbations: Sequence[Perturbation] = (),
    *,
    convention: MetricConvention | None = None,
    control: bool = True,
    limit: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    seed: int = 0,
    weights: str = "",
    progress: bool = False,
) -> tuple[dict[str, Any], MetricConvention]:
    """run_benchmark of `detector` under :func:`detector_convention` of ``convention``.

    Returns (report, convention): the convention is returned so that other predictors (the registered
    baselines, deal.baselines) can be scored under the same one.
    """
    convention = detector_convention(detector, convention)
    report = run_benchmark(
        DetectorBatches(detector, batch_size),
        datasets,
        perturbations,
        convention=convention,
        control=control,
        reader=lambda path: load_any(path, max_pixels=detector.max_pixels).array,
        limit=limit,
        batch_size=batch_size,
        seed=seed,
        device=str(detector.device),
        predictor_info={
            "name": detector.name,
            "sha256": detector.sha256,
            "weights": weights,
            "calibrated_threshold": detector.threshold,
            "image_thresholds": list(detector.image_thresholds),
        },
        progress=progress,
    )
    return report, convention
