"""Connected edited regions of a mask, described by their boxes and probabilities."""

from __future__ import annotations

import cv2
import numpy as np

MAX_REGIONS = 50


def find_regions(
    heatmap: np.ndarray, mask: np.ndarray, *, max_regions: int = MAX_REGIONS
) -> tuple[list[dict], int]:
    """The 8-connected components of `mask`, largest first.

    Args:
        heatmap: HxW float32 probabilities.
        mask: HxW bool.
        max_regions: how many regions to describe (the largest ones).

    Returns:
        (regions, count): up to `max_regions` dicts ``{"bbox": [x, y, w, h], "area": int,
        "mean_prob": float, "max_prob": float}`` sorted by area (descending, then top-left position),
        and the total number of components.
    """
    if not mask.any():
        return [], 0
    n, labels, stats, _ = cv2.connectedComponentsWithStats(
        mask.astype(np.uint8), connectivity=8, ltype=cv2.CV_32S
    )
    count = n - 1  # label 0 is the background
    areas = stats[1:, cv2.CC_STAT_AREA]
    # Largest first; ties broken by position so the order never depends on the labelling.
    order = np.lexsort((stats[1:, cv2.CC_STAT_LEFT], stats[1:, cv2.CC_STAT_TOP], -areas))[:max_regions] + 1
    regions = []
    for label in order:
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
    return regions, count
