"""The tile-grid share of a map: position within the tile as an explanation of the map's variance."""

from __future__ import annotations

import numpy as np
import pytest

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


@pytest.mark.slow  # the bundled detector over a 2304x2048 mosaic: 110 tiles on the CPU
def test_the_bundled_detectors_map_of_a_large_authentic_photo_is_not_a_tile_grid(shared_data):
    """A mosaic of twelve Kodak camera photos at native resolution (3 x 4 of 768x512: 2304x2048, larger than a
    tile on both sides): position within the 256-px tile explains at most 15% of the map's variance, over the
    detector's own tile overlap and a few others."""
    from PIL import Image

    from deal import Detector

    files = sorted((shared_data / "natural" / "Kodak" / "all").glob("*.png"))
    photos = [np.asarray(Image.open(f).convert("RGB")) for f in files]
    landscape = [p for p in photos if p.shape[:2] == (512, 768)][:12]
    mosaic = np.concatenate([np.concatenate(landscape[i * 3 : i * 3 + 3], axis=1) for i in range(4)], axis=0)
    assert mosaic.shape == (2048, 2304, 3)
    detector = Detector.load(device="cpu")
    heatmap = detector.predict(mosaic).heatmap
    share = tile_prior_share(heatmap, detector.pipeline.image_size)
    assert share <= 0.15, share
