"""The tile-grid share of a map: position within the tile as an explanation of the map's variance."""

from __future__ import annotations

import numpy as np

from deal.metrics.tile_prior import _in_tile_position, tile_position_share, tile_prior_share


def _blob_per_tile(h: int, w: int, tile: int, overlap: int) -> np.ndarray:
    """A map that is one centred blob in every tile of the grid: the prior a centre-biased detector repeats."""
    ty, tx = _in_tile_position(h, tile, overlap), _in_tile_position(w, tile, overlap)
    r2 = ((ty[:, None] - tile / 2) ** 2 + (tx[None, :] - tile / 2) ** 2) / (tile / 4) ** 2
    return np.exp(-r2 / 2)


def test_a_blob_in_every_tile_is_explained_by_position_and_noise_is_not():
    rng = np.random.default_rng(0)
    grid = _blob_per_tile(1100, 900, 256, 32)
    noisy_grid = grid + rng.normal(0, 0.1, grid.shape)
    assert tile_position_share(grid, 256, 32) > 0.97
    assert 0.7 < tile_position_share(noisy_grid, 256, 32) < 0.97
    assert tile_position_share(rng.random((1100, 900)), 256, 32) < 0.01


def test_the_largest_share_over_overlaps_finds_a_grid_of_unknown_overlap():
    grid = _blob_per_tile(1500, 1300, 256, 64)
    assert tile_position_share(grid, 256, 0) < 0.6  # the wrong grid sees part of it
    assert tile_prior_share(grid, 256) > 0.97  # 64 is among the overlaps tried


def test_a_map_smaller_than_a_tile_is_one_tile_and_a_constant_map_has_no_variance_to_explain():
    assert tile_position_share(np.zeros((300, 300)), 256, 32) == 0.0
    small = np.random.default_rng(1).random((100, 120))
    assert 0.0 <= tile_position_share(small, 256, 32) < 0.1
