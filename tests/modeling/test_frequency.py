from __future__ import annotations

import math

import torch

from deal.modeling.frequency import block_dct, block_dct_energy, dct_matrix, fft_bandpass, fft_highpass
from tests.conftest import assert_outputs_close


def test_dct_matrix_is_orthonormal_and_matches_scipy():
    from scipy.fft import dct

    d = dct_matrix(8)
    assert torch.allclose(d @ d.T, torch.eye(8), atol=1e-6)
    x = torch.randn(8, dtype=torch.float64)
    assert torch.allclose((d.double() @ x), torch.from_numpy(dct(x.numpy(), norm="ortho")), atol=1e-5)


def test_constant_image_has_no_high_frequencies():
    x = torch.full((1, 3, 32, 32), 0.7)
    assert fft_highpass(x).abs().max().item() < 1e-5
    assert fft_bandpass(x).abs().max().item() < 1e-5
    energy = block_dct_energy(x)
    assert all(v.abs().max().item() < 1e-5 for v in energy.values())
    assert math.isclose(block_dct(x)[0, 0, 0, 0, 0, 0].item(), 0.7 * 8, rel_tol=1e-5)  # DC = 8 * mean


def test_checkerboard_is_pure_high_frequency():
    yy, xx = torch.meshgrid(torch.arange(32), torch.arange(32), indexing="ij")
    board = ((yy + xx) % 2).float().expand(1, 3, 32, 32) - 0.5
    hp = fft_highpass(board, 0.25)
    assert torch.allclose(hp, board.abs(), atol=1e-5)  # the Nyquist component passes untouched
    e = block_dct_energy(board)
    # An alternating sequence's DCT-II peaks at the highest frequency (k = 7) and leaks little below.
    assert e["dct_high"].min().item() > 5 * e["dct_low"].max().item() > 0


def test_bands_are_float32_under_bf16_autocast():
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    ref = {"hp": fft_highpass(x), "bp": fft_bandpass(x), **block_dct_energy(x)}
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = {"hp": fft_highpass(x), "bp": fft_bandpass(x), **block_dct_energy(x)}
    for key in ref:
        assert got[key].dtype == torch.float32
        # within float32 noise; bf16 would be off by ~1e-2
        assert_outputs_close(got[key], ref[key])
