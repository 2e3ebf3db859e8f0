"""Object-like random regions for synthetic local edits.

Every generator draws a region of roughly ``fraction * H * W`` pixels from a NumPy ``Generator``,
so the same generator state always gives the same region. Kinds:

- ``polygon``: a star-shaped random polygon (3-12 vertices at sorted angles, random radii);
- ``fourier``: a smooth closed contour ``r(t) = 1 + sum_k a_k cos(k t) + b_k sin(k t)`` (amplitudes
  falling with k), the outline of an organic object;
- ``blob``: low-frequency noise under a Gaussian envelope, thresholded at the quantile that gives the
  target area (irregular, sometimes several nearby pieces);
- ``ellipse``: a rotated ellipse;
- ``union``: two or three of the above sharing the target area.

Contours are rasterized with ``cv2.fillPoly`` / ``cv2.ellipse`` at 1/16 pixel precision. Regions are
clipped by the image border, so the final area can fall short of the target; callers check it.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from deal_data_tools.synthesis.names import SHAPE_NAMES

__all__ = ["SHAPE_NAMES", "random_region", "uniform_shift"]

_PRIMITIVES: tuple[str, ...] = ("polygon", "fourier", "blob", "ellipse")
_SHIFT = 4  # fillPoly / ellipse sub-pixel bits


def random_region(
    rng: np.random.Generator, height: int, width: int, fraction: float, kind: str | None = None
) -> tuple[np.ndarray, str]:
    """A random object-like region.

    Args:
        rng: the random generator (consumed).
        height, width: image size in pixels.
        fraction: target area as a fraction of ``height * width``.
        kind: one of :data:`SHAPE_NAMES`, or None to draw one uniformly.

    Returns:
        (``HxW bool`` region, kind).
    """
    if kind is None:
        kind = str(rng.choice(SHAPE_NAMES))
    if kind not in SHAPE_NAMES:
        raise ValueError(f"unknown shape {kind!r}; valid: {', '.join(SHAPE_NAMES)}")
    area = fraction * height * width
    if kind != "union":
        return _primitive(rng, kind, height, width, area), kind
    parts = int(rng.integers(2, 4))
    shares = rng.dirichlet(np.full(parts, 2.0))
    region = np.zeros((height, width), bool)
    for share in shares:
        region |= _primitive(rng, str(rng.choice(_PRIMITIVES)), height, width, area * float(share))
    return region, kind


def uniform_shift(region: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``region`` shifted by a uniform random offset with wrap-around (``np.roll``).

    Whatever the shape and where it was drawn, every pixel is then equally likely to be covered (the
    expected mask is flat, borders included) and the area is kept exactly. A region that crosses the frame
    comes out as pieces at opposite borders, as an edit cut by the frame would.
    """
    h, w = region.shape
    return np.roll(region, (int(rng.integers(0, h)), int(rng.integers(0, w))), axis=(0, 1))


def _primitive(rng: np.random.Generator, kind: str, height: int, width: int, area: float) -> np.ndarray:
    if kind == "blob":
        return _blob(rng, height, width, area)
    if kind == "ellipse":
        return _ellipse(rng, height, width, area)
    contour = _polygon_contour(rng) if kind == "polygon" else _fourier_contour(rng)
    return _fill_contour(rng, contour, height, width, area)


def _polygon_contour(rng: np.random.Generator) -> np.ndarray:
    """Unit-scale star-shaped polygon, ``Nx2`` (x, y)."""
    n = int(rng.integers(3, 13))
    angles = np.sort((np.arange(n) + rng.uniform(-0.35, 0.35, n)) * (2 * math.pi / n))
    radii = rng.uniform(0.35, 1.0, n)
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)


def _fourier_contour(rng: np.random.Generator, points: int = 128) -> np.ndarray:
    """Unit-scale smooth closed contour from a random Fourier series of the radius, ``Nx2``."""
    t = np.linspace(0.0, 2 * math.pi, points, endpoint=False)
    r = np.ones_like(t)
    for k in range(1, 7):
        a, b = rng.normal(0.0, 0.22 / k**1.1, 2)
        r += a * np.cos(k * t) + b * np.sin(k * t)
    r = np.clip(r, 0.15, None)
    return np.stack([r * np.cos(t), r * np.sin(t)], axis=1)


def _fill_contour(
    rng: np.random.Generator, contour: np.ndarray, height: int, width: int, area: float
) -> np.ndarray:
    """Stretch, rotate and scale ``contour`` to ``area`` pixels, place it at random, rasterize it."""
    stretch = math.exp(rng.uniform(-0.5, 0.5))
    angle = rng.uniform(0.0, math.pi)
    c, s = math.cos(angle), math.sin(angle)
    pts = contour * np.array([stretch, 1.0 / stretch])
    pts = pts @ np.array([[c, s], [-s, c]])
    x, y = pts[:, 0], pts[:, 1]
    unit_area = 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
    pts = pts * math.sqrt(area / max(unit_area, 1e-9))
    pts += _centre(rng, pts.min(0), pts.max(0), height, width)
    region = np.zeros((height, width), np.uint8)
    cv2.fillPoly(region, [np.round(pts * (1 << _SHIFT)).astype(np.int32)], 1, cv2.LINE_8, _SHIFT)
    return region.astype(bool)


def _ellipse(rng: np.random.Generator, height: int, width: int, area: float) -> np.ndarray:
    aspect = rng.uniform(0.35, 1.0)
    a = math.sqrt(area / (math.pi * aspect))
    b = a * aspect
    angle = rng.uniform(0.0, 180.0)
    half = np.array([a, a])  # conservative extent for placement
    cx, cy = _centre(rng, -half, half, height, width)
    region = np.zeros((height, width), np.uint8)
    cv2.ellipse(region, ((float(cx), float(cy)), (2 * a, 2 * b), angle), 1, -1)
    return region.astype(bool)


def _blob(rng: np.random.Generator, height: int, width: int, area: float) -> np.ndarray:
    radius = math.sqrt(area / math.pi)
    cells = int(rng.integers(3, 7))
    noise = rng.standard_normal((cells + 1, cells + 1)).astype(np.float32)
    field = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    cx, cy = _centre(rng, -np.array([radius, radius]), np.array([radius, radius]), height, width)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    envelope = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * (1.2 * radius) ** 2))
    score = envelope * (1.5 + 0.6 * field)
    k = int(np.clip(round(area), 1, score.size))
    threshold = np.partition(score.ravel(), score.size - k)[score.size - k]
    return score >= threshold


def _centre(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray, height: int, width: int) -> np.ndarray:
    """A random centre so that the extent [lo, hi] around it fits in the image where possible."""
    out = []
    for lo_i, hi_i, size in ((lo[0], hi[0], width), (lo[1], hi[1], height)):
        a, b = -lo_i, size - 1 - hi_i
        out.append(rng.uniform(a, b) if b > a else (size - 1) / 2 + rng.uniform(-0.1, 0.1) * size)
    return np.array(out)
