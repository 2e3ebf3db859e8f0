"""Tile layout and blending (pure numpy)."""

from __future__ import annotations

import numpy as np
import pytest

from deal.modeling.tiling import TileBlender, ramp_weights, tile_starts


@pytest.mark.parametrize(
    ("length", "tile", "overlap"),
    [(100, 128, 16), (128, 128, 16), (129, 128, 16), (1000, 128, 16), (6000, 512, 64)],
)
def test_tile_starts_cover_with_overlap(length, tile, overlap):
    starts = tile_starts(length, tile, overlap)
    assert starts[0] == 0
    if length <= tile:
        assert starts == [0]
        return
    assert starts[-1] + tile == length  # the last window ends at the edge: no padding inside the image
    gaps = np.diff(starts)
    assert (gaps > 0).all() and (tile - gaps >= overlap).all()  # consecutive windows overlap enough


def test_ramp_weights_positive_and_symmetric():
    w = ramp_weights(128, 16)
    assert w.dtype == np.float32 and (w > 0).all() and w.max() == 1.0
    assert np.array_equal(w, w[::-1])
    assert w[0] == pytest.approx(0.5 / 16)


def test_blend_is_a_normalized_weighted_mean():
    h, w = 300, 410
    rng = np.random.default_rng(0)
    truth = rng.random((h, w), dtype=np.float32)
    blender = TileBlender(h, w, tile=128, overlap=16)
    assert len(blender) == len(tile_starts(h, 128, 16)) * len(tile_starts(w, 128, 16))
    for win in blender.windows():
        blender.add(win, truth[win.y : win.y + win.h, win.x : win.x + win.w])
    # Every window agrees with the truth, so the normalized blend must give the truth back.
    np.testing.assert_allclose(blender.result(), truth, rtol=0, atol=2e-6)


def test_blend_of_disagreeing_tiles_stays_in_range_and_is_smooth():
    blender = TileBlender(64, 300, tile=128, overlap=32)
    for i, win in enumerate(blender.windows()):
        blender.add(win, np.full((win.h, win.w), float(i % 2), dtype=np.float32))
    out = blender.result()
    assert out.min() >= 0 and out.max() <= 1
    assert np.abs(np.diff(out[0])).max() < 0.05  # a ramp, not a seam


def test_tile_windows_are_the_blenders_windows_without_its_accumulator():
    from deal.modeling.tiling import TileBlender, tile_windows

    for h, w in [(300, 200), (128, 128), (1000, 130)]:
        assert tile_windows(h, w, tile=128, overlap=16) == list(TileBlender(h, w, tile=128, overlap=16).windows())
