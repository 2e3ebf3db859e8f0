"""Overlapping windows over a large image, and their blend back into one full-resolution map.

An image larger than the tile along an axis is covered by windows of exactly `tile` pixels whose starts
are spread evenly from 0 to (length - tile), so that consecutive windows overlap by at least `overlap`
pixels and the last one ends at the image edge (no padding inside the image). Along an axis no longer
than the tile there is one window, the whole axis.

Each window's probabilities are weighted by a separable linear ramp (1-D weights rising over the first
`overlap` pixels and falling over the last `overlap`, strictly positive everywhere) and the sum is divided
by the sum of the weights. Because the window grid is a product of a row grid and a column grid, the sum
of the 2-D weights is the outer product of the two 1-D sums: the blend needs one HxW float32
accumulator and no HxW weight map. Memory is therefore the image, one HxW map and a batch of tiles,
whatever the image size.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of the windows covering [0, length): evenly spread, overlap >= `overlap`."""
    if tile <= 0 or not 0 <= overlap < tile:
        raise ValueError(f"need tile > 0 and 0 <= overlap < tile, got tile={tile}, overlap={overlap}")
    if length <= tile:
        return [0]
    n = math.ceil((length - tile) / (tile - overlap)) + 1
    return [round(i * (length - tile) / (n - 1)) for i in range(n)]


def ramp_weights(size: int, overlap: int) -> np.ndarray:
    """1-D blend weights of one window (float32, length `size`): linear ramps of `overlap` pixels at both ends."""
    w = np.ones(size, dtype=np.float32)
    r = min(overlap, size // 2)
    if r > 0:
        ramp = (np.arange(r, dtype=np.float32) + 0.5) / r  # in (0, 1): never zero
        w[:r] = ramp
        w[size - r :] = ramp[::-1]
    return w


@dataclass(frozen=True)
class Window:
    """One tile: rows [y, y + h) and columns [x, x + w) of the image."""

    y: int
    x: int
    h: int
    w: int


def tile_windows(height: int, width: int, *, tile: int, overlap: int) -> list[Window]:
    """The windows covering a height x width image (row-major), without allocating anything image-sized."""
    rows, cols = tile_starts(height, tile, overlap), tile_starts(width, tile, overlap)
    th, tw = min(tile, height), min(tile, width)
    return [Window(y, x, th, tw) for y in rows for x in cols]


class TileBlender:
    """Accumulates per-window probability maps into one HxW float32 map (see the module docstring).

    Usage::

        blender = TileBlender(height, width, tile=512, overlap=64)
        for window in blender.windows():
            blender.add(window, probs_of(image[window.y:window.y + window.h, window.x:window.x + window.w]))
        heatmap = blender.result()   # HxW float32
    """

    def __init__(self, height: int, width: int, *, tile: int, overlap: int) -> None:
        self.height, self.width = height, width
        self.rows = tile_starts(height, tile, overlap)
        self.cols = tile_starts(width, tile, overlap)
        self.tile_h, self.tile_w = min(tile, height), min(tile, width)
        self.wy = ramp_weights(self.tile_h, overlap if len(self.rows) > 1 else 0)
        self.wx = ramp_weights(self.tile_w, overlap if len(self.cols) > 1 else 0)
        self._acc = np.zeros((height, width), dtype=np.float32)

    def windows(self) -> Iterator[Window]:
        for y in self.rows:
            for x in self.cols:
                yield Window(y, x, self.tile_h, self.tile_w)  # the same order as tile_windows

    def __len__(self) -> int:
        return len(self.rows) * len(self.cols)

    def add(self, window: Window, probs: np.ndarray) -> None:
        """probs: (tile_h)x(tile_w) float32 probabilities of `window`."""
        weighted = probs * self.wy[:, None]
        weighted *= self.wx[None, :]
        self._acc[window.y : window.y + window.h, window.x : window.x + window.w] += weighted

    def result(self) -> np.ndarray:
        """HxW float32 blended map (the accumulator, divided in place: call once)."""
        sy = np.zeros(self.height, dtype=np.float32)
        sx = np.zeros(self.width, dtype=np.float32)
        for y in self.rows:
            sy[y : y + self.tile_h] += self.wy
        for x in self.cols:
            sx[x : x + self.tile_w] += self.wx
        self._acc /= sy[:, None]
        self._acc /= sx[None, :]
        return self._acc
