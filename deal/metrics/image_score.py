"""The image-level score and the verdict rule: defined here once, used by Detection, the metrics, training
logs, calibration, benchmark, detect's records and the HTML report."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# The image-level score is the mean of the top TOP_FRACTION of heatmap pixels (at least one pixel).
TOP_FRACTION = 0.01

SCORE_RULE = (
    "score is the image-level score in [0, 1]: the mean of the top 1% of the heatmap's pixel probabilities"
)
VERDICTS = ("edited", "inconclusive", "authentic")
# The rule in words, for --help, the README, the HTML report and the API docs.
VERDICT_RULE = (
    "verdict is edited when score >= image_threshold_high, authentic when score < image_threshold_low, "
    "inconclusive in between; the mask marks pixels with probability > threshold"
)


def image_score(heatmap: Any, top_fraction: float = TOP_FRACTION) -> float:
    """Image-level probability (HxW numpy array or torch tensor) of an edit: the mean of the highest `top_fraction` of the heatmap's pixels.

    The mean of the top 1% is robust to a few hot pixels (unlike the maximum) and still fires on an edit
    covering only 1% of the image (unlike the mean). For a 512x512 image it is the mean of the top 2,622
    pixels; for an image under 100 pixels, the maximum.
    """
    if hasattr(heatmap, "detach"):  # a torch tensor (torch is not imported here: the CLI's help stays fast)
        heatmap = heatmap.detach().float().cpu().numpy()
    flat = np.asarray(heatmap).reshape(-1)
    k = max(1, math.ceil(top_fraction * flat.size))
    top = np.partition(flat, flat.size - k)[flat.size - k :]
    return float(top.mean(dtype=np.float64))


def check_image_thresholds(low: float, high: float) -> tuple[float, float]:
    """(low, high) as floats, or ValueError unless 0 <= low <= high <= 1."""
    low, high = float(low), float(high)
    if not 0.0 <= low <= high <= 1.0:
        raise ValueError(f"image thresholds must satisfy 0 <= low <= high <= 1, got low={low}, high={high}")
    return low, high


def is_edited(score: float, high: float) -> bool:
    """The one comparison of an image score with a threshold: score >= threshold."""
    return score >= high


def verdict(score: float, low: float, high: float) -> str:
    """"edited" (score >= high), "authentic" (score < low) or "inconclusive" (in between). See VERDICT_RULE."""
    if is_edited(score, high):
        return "edited"
    return "inconclusive" if is_edited(score, low) else "authentic"
