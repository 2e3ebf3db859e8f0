"""The result of one image: heatmap, mask, image-level score and verdict, regions."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from deal.baselines.views import ViewResult
from deal.inference.regions import MAX_REGIONS, MIN_REGION_FRACTION, find_regions
from deal.metrics.image_score import TOP_FRACTION, VERDICT_RULE, check_image_thresholds, image_score, verdict

__all__ = [
    "TOP_FRACTION", "VERDICT_RULE", "Detection", "NonFiniteMapError", "image_score", "non_finite_message",
]


class NonFiniteMapError(ValueError):
    """The detector produced NaN or inf in a heatmap: such a map has no score and no verdict.

    Attributes:
        positions: the positions, in the call's list of images, of the maps that are not finite.
        maps: every map of the call, None at those positions (the others are finite and usable).
    """

    def __init__(self, message: str, positions: list[int] | None = None, maps: list | None = None) -> None:
        super().__init__(message)
        self.positions = list(positions or [])
        self.maps = list(maps or [])


def non_finite_message(source: str) -> str:
    """The one sentence of an image whose heatmap is not finite (the API's exception, the CLI's record)."""
    return (
        f"{source}: the detector produced non-finite values (NaN or inf) in the heatmap, so there is no "
        "score and no verdict"
    )


@dataclass
class Detection:
    """What a detector says about one image.

    Attributes:
        heatmap: HxW float32 probability of an edit per pixel, in [0, 1], at the image's size as displayed.
        mask: HxW bool, heatmap > threshold (the metrics' convention: a pixel is flagged when p > t).
        score: image-level probability of an edit (see image_score: mean of the top 1% of the heatmap).
        threshold: the threshold of the mask.
        image_thresholds: (low, high), the verdict's thresholds on `score` (the detector's calibrated
            ones; None: both equal to `threshold`). See `verdict`.
        edited_fraction: mask.mean().
        regions: the largest connected regions of the mask (see deal.inference.regions.find_regions).
        n_regions: how many regions the mask has in all (regions holds at most 50).
        n_regions_dropped: how many connected components of the mask were too small to be regions (under
            min_region_fraction of the image's area).
        min_region_fraction: the smallest region, as a fraction of the image's area.
        width, height: the image's size.
        source: the input (a path) or a description of an in-memory input.
        notes: conversions applied to the input (EXIF rotation, first frame of an animation, ...).
        provenance: what the file says about its origin (deal.provenance; docs/provenance.md), or None.
        views: the classic forensic views asked for (``views=`` of Detector.predict, ``deal detect --views``),
            by name: deal.baselines.views.ViewResult (``map`` HxW float32 in [0, 1] or None, ``score``,
            ``note``); empty when none was asked for.
    """

    heatmap: np.ndarray
    mask: np.ndarray
    score: float
    threshold: float
    edited_fraction: float
    regions: list[dict]
    n_regions: int
    n_regions_dropped: int
    min_region_fraction: float
    width: int
    height: int
    source: str | None = None
    notes: list[str] = field(default_factory=list)
    image_thresholds: tuple[float, float] | None = None
    provenance: dict | None = None
    views: dict[str, ViewResult] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        """ "edited" when score >= high, "authentic" when score < low, else "inconclusive"
        (deal.metrics.image_score.VERDICT_RULE; (low, high) = image_thresholds)."""
        low, high = self.image_thresholds or (self.threshold, self.threshold)
        return verdict(self.score, low, high)

    @classmethod
    def from_heatmap(
        cls,
        heatmap: np.ndarray,
        threshold: float,
        *,
        source: str | None = None,
        notes: list[str] | None = None,
        max_regions: int = MAX_REGIONS,
        min_region_fraction: float = MIN_REGION_FRACTION,
        image_thresholds: tuple[float, float] | None = None,
        provenance: dict | None = None,
        views: dict[str, ViewResult] | None = None,
    ) -> Detection:
        """Builds the Detection of an HxW float32 probability map."""
        if heatmap.ndim != 2:
            raise ValueError(f"heatmap must be HxW, got shape {heatmap.shape}")
        heatmap = heatmap.astype(np.float32, copy=False)
        mask = heatmap > threshold
        regions, n_regions, n_dropped = find_regions(
            heatmap, mask, max_regions=max_regions, min_fraction=min_region_fraction
        )
        return cls(
            heatmap=heatmap,
            mask=mask,
            score=image_score(heatmap),
            threshold=float(threshold),
            edited_fraction=float(np.count_nonzero(mask)) / mask.size,
            regions=regions,
            n_regions=n_regions,
            n_regions_dropped=n_dropped,
            min_region_fraction=float(min_region_fraction),
            width=int(heatmap.shape[1]),
            height=int(heatmap.shape[0]),
            source=source,
            notes=list(notes or []),
            image_thresholds=None if image_thresholds is None else check_image_thresholds(*image_thresholds),
            provenance=provenance,
            views=dict(views or {}),
        )
