"""How much of a map is the tile grid: the share of its variance that the position within the tile explains.

A detector that learned "the centre of the input is edited" repeats that prior in every tile of a large image:
its map becomes a grid of one blob per tile, unrelated to any edit. On an authentic photo larger than a tile,
:func:`tile_position_share` measures it: every pixel gets its position within the tile that covers it (the
window whose centre is nearest, as the blend weights favour it), positions are pooled in ``cell``-pixel cells,
and the share is the between-cell variance of the map over its total variance (the R^2 of a map predicted by
the in-tile cell alone). 0: position within the tile says nothing; 1: the map is the same pattern in every
tile. Since the tile grid a detector used is not always known, :func:`tile_prior_share` takes the largest
share over a few overlaps (the grid is then at least as well found as by the detector's own overlap).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from deal.modeling.tiling import tile_starts

OVERLAPS: tuple[int, ...] = (0, 16, 32, 64)  # tile overlaps tried by tile_prior_share (pixels)
CELL: int = 8  # pixels per in-tile position cell


def _in_tile_position(length: int, tile: int, overlap: int) -> np.ndarray:
    """Per coordinate in [0, length): its offset within the nearest window (by centre)."""
    starts = np.array(tile_starts(length, tile, overlap))
    coords = np.arange(length)
    nearest = np.abs(coords[:, None] - (starts[None, :] + tile / 2)).argmin(axis=1)
    return coords - starts[nearest]


def tile_position_share(heatmap: np.ndarray, tile: int, overlap: int, cell: int = CELL) -> float:
    """Share of ``heatmap``'s variance (HxW) explained by the in-tile position cell under one tile grid."""
    heatmap = np.asarray(heatmap, dtype=np.float64)
    h, w = heatmap.shape
    ty = _in_tile_position(h, min(tile, h), overlap if tile < h else 0) // cell
    tx = _in_tile_position(w, min(tile, w), overlap if tile < w else 0) // cell
    cells = (ty[:, None] * (tile // cell + 1) + tx[None, :]).ravel()
    values = heatmap.ravel()
    total = float(((values - values.mean()) ** 2).sum())
    if total == 0.0:
        return 0.0
    counts = np.bincount(cells)
    sums = np.bincount(cells, weights=values)
    used = counts > 0
    means = sums[used] / counts[used]
    between = float((counts[used] * (means - values.mean()) ** 2).sum())
    return between / total


def tile_prior_share(heatmap: np.ndarray, tile: int, overlaps: Sequence[int] = OVERLAPS, cell: int = CELL) -> float:
    """The largest :func:`tile_position_share` over ``overlaps``: how much of the map the tile grid explains."""
    return max(tile_position_share(heatmap, tile, o, cell) for o in overlaps if o < tile)
