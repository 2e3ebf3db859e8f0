"""What every view shares: the luma it reads, the one rule that turns evidence into a map in [0, 1], and
the tiling that bounds a view's memory on large images.

The map rule (:func:`outlier_map`): a view's evidence is set against the image's own typical level, its
median, in robust standard deviations (1.4826 x the median absolute deviation); a pixel
:data:`Z_HALF` deviations above the median maps to 0.5. So a view flags what stands out in this image, not
what is large in absolute units (a noisy camera, a low JPEG quality), and an image where nothing stands out
gets a map that is low almost everywhere.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

Z_HALF = 3.0  # robust deviations above the image's median at which a view's map is 0.5
STATS_SAMPLES = 1_000_000  # at most this many pixels (a regular grid of them) set the median and the deviation
TILE = 1024  # tile side of the tiled views, a multiple of 16: JPEG blocks and 4:2:0 MCUs keep their alignment


def luma(image: np.ndarray) -> np.ndarray:
    """``HxWx3`` uint8 RGB (or ``HxW``) as float32 luma in 0-255 (ITU-R BT.601, OpenCV's weights)."""
    if image.ndim == 3:
        image = cv2.cvtColor(np.ascontiguousarray(image[..., :3]), cv2.COLOR_RGB2GRAY)
    return image.astype(np.float32)


def _sample(values: np.ndarray) -> np.ndarray:
    """A regular grid of at most STATS_SAMPLES values (all of them for smaller maps): deterministic."""
    step = max(1, int(np.ceil(np.sqrt(values.size / STATS_SAMPLES))))
    return values[::step, ::step] if values.ndim == 2 else values[::step]


def robust_z(evidence: np.ndarray, min_spread: float) -> np.ndarray:
    """``(evidence - median) / max(1.4826 * MAD, min_spread)`` of the image's own evidence (float32). The floor
    ``min_spread`` (in the evidence's units: the smallest difference the view counts as real) keeps an image
    whose evidence is nearly uniform (a clean re-save, a flat image) from turning tiny differences into
    large deviations."""
    sample = _sample(evidence)
    median = float(np.median(sample))
    spread = max(1.4826 * float(np.median(np.abs(sample - median))), min_spread)
    return ((evidence - median) / spread).astype(np.float32)


def outlier_map(evidence: np.ndarray, min_spread: float, two_sided: bool = False) -> np.ndarray:
    """The view map of ``evidence`` (higher = more suspicious): a logistic of its robust z-score
    (:func:`robust_z`) minus :data:`Z_HALF`, float32 in [0, 1]. ``two_sided``: a deviation below the median
    counts as much as one above (an inconsistency either way)."""
    z = robust_z(evidence, min_spread)
    if two_sided:
        z = np.abs(z)
    return (1.0 / (1.0 + np.exp(np.clip(Z_HALF - z, -50, 50)))).astype(np.float32)


def tiled(evidence_of: Callable[[np.ndarray], np.ndarray], image: np.ndarray, margin: int) -> np.ndarray:
    """``evidence_of`` (an image -> HxW float32 map of local evidence) on an image of any size, in
    :data:`TILE`-pixel tiles read with ``margin`` pixels of context on each side (a multiple of 16, at least
    the radius of the view's filters): the result equals the untiled one away from the image's border up to
    the filters' border handling, and memory stays that of one tile. Images that fit one tile run whole."""
    h, w = image.shape[:2]
    if h <= TILE and w <= TILE:
        return evidence_of(image)
    if margin % 16:
        raise ValueError(f"margin must be a multiple of 16 (JPEG alignment), got {margin}")
    out = np.empty((h, w), np.float32)
    for y0 in range(0, h, TILE):
        for x0 in range(0, w, TILE):
            ya, xa = max(0, y0 - margin), max(0, x0 - margin)
            y1, x1 = min(h, y0 + TILE), min(w, x0 + TILE)
            part = evidence_of(image[ya : min(h, y1 + margin), xa : min(w, x1 + margin)])
            out[y0:y1, x0:x1] = part[y0 - ya : y1 - ya, x0 - xa : x1 - xa]
    return out
