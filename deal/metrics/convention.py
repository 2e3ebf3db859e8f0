"""The metric convention: every setting behind a reported number, as ONE object.

The CLI builds it (``deal benchmark``, ``deal evaluate``), evaluation passes it on, the metrics read it
(:class:`deal.metrics.LocalizationMetrics`) and the reports write it (``convention`` text and ``settings`` in
benchmark.json and evaluate's JSON). Imports nothing heavy (no torch).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from deal.metrics.image_score import SCORE_RULE, check_image_thresholds

DEFAULT_BOOTSTRAP = 1000  # resamples of the bootstrap intervals
DEFAULT_CONFIDENCE = 0.95


@dataclass(frozen=True)
class MetricConvention:
    """How maps and scores become numbers.

    Attributes:
        threshold: a pixel is flagged when ``p > threshold`` (pixel_f1_calibrated, IoU, MCC, dataset F1,
            false alarm); pixel_f1 is always at 0.5.
        inverted_max: per image, the better of the map and its complement (TruFor).
        border_band: ignore TruFor's band around the mask boundary (erode 15, dilate 11).
        num_thresholds: None: exact best F1 / AUC over all distinct values; K: a K-step grid.
        image_thresholds: the verdict's ``(low, high)`` on the image score; None: ``(threshold, threshold)``.
        bootstrap: resamples of the bootstrap intervals (0: no intervals).
        seed: seed of the bootstrap resampling.
        confidence: coverage of the intervals.
    """

    threshold: float = 0.5
    inverted_max: bool = False
    border_band: bool = False
    num_thresholds: int | None = None
    image_thresholds: tuple[float, float] | None = None
    bootstrap: int = DEFAULT_BOOTSTRAP
    seed: int = 0
    confidence: float = DEFAULT_CONFIDENCE

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")
        if self.num_thresholds is not None and self.num_thresholds < 2:
            raise ValueError(f"num_thresholds must be None or >= 2, got {self.num_thresholds}")
        if self.bootstrap < 0:
            raise ValueError(f"bootstrap must be >= 0 resamples, got {self.bootstrap}")
        if not 0.0 < self.confidence < 1.0:
            raise ValueError(f"confidence must be in (0, 1), got {self.confidence}")
        low, high = (self.threshold, self.threshold) if self.image_thresholds is None else self.image_thresholds
        set_ = object.__setattr__  # frozen: normalized once, here
        set_(self, "threshold", float(self.threshold))
        set_(self, "image_thresholds", check_image_thresholds(low, high))

    def replace(self, **changes: Any) -> MetricConvention:
        """A copy with ``changes``; ``threshold`` alone also moves image thresholds that followed it."""
        if "threshold" in changes and "image_thresholds" not in changes:
            if self.image_thresholds == (self.threshold, self.threshold):
                changes["image_thresholds"] = None
        return dataclasses.replace(self, **changes)

    def describe(self) -> str:
        """One line naming the settings behind the numbers, for table headers and JSON."""
        low, high = self.image_thresholds
        grid = "all distinct scores" if self.num_thresholds is None else f"{self.num_thresholds}-step grid"
        intervals = (
            f"{self.confidence:.0%} bootstrap intervals over images ({self.bootstrap} resamples, seed {self.seed})"
            if self.bootstrap
            else "no intervals"
        )
        return (
            f"pixel F1 at p>0.5 and at p>{self.threshold:g} (F1@T), IoU and MCC at p>{self.threshold:g}, per image, "
            f"mean over edited images; best F1 per image over {grid}; dataset F1 pooled over all pixels of all "
            f"images; pixel AUC per image; image AUC/bAcc on the image score (mean of the top 1% of the map unless "
            f"given), verdict edited at score>={high:g}, authentic at score<{low:g}; false alarm = flagged fraction "
            f"of authentic images; inverted max {'on' if self.inverted_max else 'off'}; "
            f"border band {'ignored (erode 15, dilate 11)' if self.border_band else 'counted'}; {intervals}"
        )

    def to_dict(self) -> dict[str, Any]:
        """The settings, JSON-ready (``settings`` of benchmark.json and evaluate's JSON)."""
        d = dataclasses.asdict(self)
        d["image_thresholds"] = list(self.image_thresholds)
        d["image_score"] = SCORE_RULE
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MetricConvention:
        """The convention of a JSON report's ``settings`` (other keys ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in names}
        if kwargs.get("image_thresholds") is not None:
            kwargs["image_thresholds"] = tuple(kwargs["image_thresholds"])
        return cls(**kwargs)


DEFAULT_CONVENTION = MetricConvention()
