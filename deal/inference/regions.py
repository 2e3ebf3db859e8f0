"""Connected edited regions of a mask, described by their boxes and probabilities.

A region is an 8-connected component of the mask covering at least MIN_REGION_FRACTION of the image's
area. Smaller components (specks of a few pixels, which a thresholded heatmap holds by the hundred on a
large photo) are counted as dropped, not listed; the mask itself, and so the edited fraction, keeps them.
"""

from __future__ import annotations

import math

import numpy as np

MAX_REGIONS = 50  # regions described in a record (the largest); the count covers them all
# A region covers at least this fraction of the image: 0.01 %, i.e. 7 pixels of a 256x256 image, 1,200 of
# a 4000x3000 photo.
MIN_REGION_FRACTION = 1e-4


def min_region_area(height: int, width: int, min_fraction: float = MIN_REGION_FRACTION) -> int:
    """The smallest area (pixels) of a region of an image of this size: ceil(min_fraction * H * W), at
    least 1."""
    if not 0.0 <= min_fraction < 1.0:
        raise ValueError(f"min_fraction must be in [0, 1), got {min_fraction}")
    return max(1, math.ceil(min_fraction * height * width))


def find_regions(
    heatmap: np.ndarray,
    mask: np.ndarray,
    *,
    max_regions: int = MAX_REGIONS,
    min_fraction: float = MIN_REGION_FRACTION,
) -> tuple[list[dict], int, int]:
    """The 8-connected components of `mask` that are regions (min_region_area), largest first.

    Args:
        heatmap: HxW float32 probabilities.
        mask: HxW bool.
        max_regions: how many regions to describe (the largest ones).
        min_fraction: the smallest region, as a fraction of the image's area.

    Returns:
        (regions, count, dropped): up to `max_regions` dicts ``{"bbox": [x, y, w, h], "area": int,
        "mean_prob": float, "max_prob": float}`` sorted by area (descending, then top-left position),
        the number of regions, and the number of components too small to be one.
    """
    import cv2  # here, not at the top: the command line reads MIN_REGION_FRACTION without loading OpenCV

    min_area = min_region_area(*mask.shape, min_fraction)
    if not mask.any():
        return [], 0, 0
    n, labels, stats, _ = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=8, ltype=cv2.CV_32S
    )
    areas = stats[1:, cv2.CC_STAT_AREA]  # label 0 is the background
    kept = np.flatnonzero(areas >= min_area)
    # Largest first; ties broken by position so the order never depends on the labelling.
    order = kept[np.lexsort((stats[1:, cv2.CC_STAT_LEFT][kept], stats[1:, cv2.CC_STAT_TOP][kept], -areas[kept]))]
    regions = []
    for label in order[:max_regions] + 1:
        x, y, w, h, area = (int(v) for v in stats[label, :5])
        inside = labels[y : y + h, x : x + w] == label
        probs = heatmap[y : y + h, x : x + w][inside]
        regions.append(
            {
                "bbox": [x, y, w, h],
                "area": area,
                "mean_prob": round(float(probs.mean(dtype=np.float64)), 6),
                "max_prob": round(float(probs.max()), 6),
            }
        )
    return regions, len(kept), len(areas) - len(kept)
