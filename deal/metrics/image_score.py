"""The image-level score rule shared by inference (Detection.score) and threshold calibration."""

from __future__ import annotations

import math

import numpy as np

# The image-level score is the mean of the top TOP_FRACTION of heatmap pixels (at least one pixel).
TOP_FRACTION = 0.01


def image_score(heatmap: np.ndarray, top_fraction: float = TOP_FRACTION) -> float:
    """Image-level probability of an edit: the mean of the highest `top_fraction` of the heatmap's pixels.

    The mean of the top 1% is robust to a few hot pixels (unlike the maximum) and still fires on an edit
    covering only 1% of the image (unlike the mean). For a 512x512 image it is the mean of the top 2,622
    pixels; for an image under 100 pixels, the maximum.
    """
    flat = np.asarray(heatmap).reshape(-1)
    k = max(1, math.ceil(top_fraction * flat.size))
    top = np.partition(flat, flat.size - k)[flat.size - k :]
    return float(top.mean(dtype=np.float64))
