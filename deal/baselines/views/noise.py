"""Noise-level inconsistency: the camera's noise is about the same over an authentic image; a region pasted
from elsewhere, re-noised, or generated (diffusion output is smoother than camera noise) has another level.

Local noise level: Immerkaer's estimator ("Fast noise variance estimation", CVIU 1996): the absolute response
to the 3x3 kernel ``[[1,-2,1],[-2,4,-2],[1,-2,1]]`` (the difference of two Laplacians, a denoising residual
that cancels smooth shading and edges' first order) times ``sqrt(pi/2) / 6``, averaged over a
:data:`WINDOW`-pixel box. Evidence: its log, and the map is
:func:`~deal.baselines.views.common.outlier_map` of it, two-sided: a level far above or far below the
image's own median is inconsistent. Strong texture raises the residual like noise does.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from deal.baselines.views.common import luma, outlier_map, tiled

WINDOW = 32  # noise-level window, pixels
_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
MIN_SPREAD = 0.15  # of the log level: noise levels within about 15% of each other are not told apart
FLOOR = 0.25  # gray levels added before the log, so perfectly flat areas (sigma 0) stay finite


def noise_level(image: np.ndarray) -> np.ndarray:
    """Per pixel (float32 ``HxW``): the local noise standard deviation in gray levels (Immerkaer)."""
    residual = np.abs(cv2.filter2D(luma(image), cv2.CV_32F, _KERNEL, borderType=cv2.BORDER_REFLECT))
    return cv2.blur(residual, (WINDOW, WINDOW), borderType=cv2.BORDER_REFLECT) * np.float32(math.sqrt(math.pi / 2) / 6)


def noise_view(image: np.ndarray) -> tuple[np.ndarray, None, None]:
    """The noise view: ``(map, None, None)``."""
    level = tiled(noise_level, image, margin=32)
    return outlier_map(np.log(level + FLOOR), MIN_SPREAD, two_sided=True), None, None
