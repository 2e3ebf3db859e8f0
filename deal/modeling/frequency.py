"""Image-domain frequency bands for the Frequency Input Prompter (pure functions, Bx3xHxW -> ...).

torch.fft has FFTs but no block DCT; the 8x8 DCT-II here is two matrix products with the DCT basis,
the way JPEG defines it (no library offers a batched, differentiable block DCT on tensors).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import TypeVar

import torch

_Fn = TypeVar("_Fn", bound=Callable)


def fp32(fn: _Fn) -> _Fn:
    """Runs `fn` with autocast off, so the bands are computed in float32 whatever the caller's autocast
    (a bf16 block DCT is off by up to ~2% in its energies); the result keeps the input's dtype."""

    @functools.wraps(fn)
    def wrapper(x: torch.Tensor, *args, **kwargs):
        if not torch.amp.is_autocast_available(x.device.type):  # e.g. the meta device of FLOP counting
            return fn(x, *args, **kwargs)
        with torch.autocast(device_type=x.device.type, enabled=False):
            return fn(x, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _centred_square(h: int, w: int, area_share: float, device: torch.device) -> torch.Tensor:
    """HxW mask, 1 on the centred square (rectangle for non-square images) covering area_share."""
    side = math.sqrt(area_share)
    mh, mw = round(h * side / 2), round(w * side / 2)
    mask = torch.zeros(h, w, device=device)
    cy, cx = h // 2, w // 2
    mask[cy - mh : cy + mh, cx - mw : cx + mw] = 1.0
    return mask


def _filter_spectrum(x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    spectrum = torch.fft.fftshift(torch.fft.fft2(x.float(), norm="forward"), dim=(-2, -1))
    spectrum = spectrum * keep
    out = torch.fft.ifft2(torch.fft.ifftshift(spectrum, dim=(-2, -1)), norm="forward")
    return out.real.abs().to(x.dtype)


@fp32
def fft_highpass(x: torch.Tensor, rate: float = 0.25) -> torch.Tensor:
    """EVP's handcrafted high-frequency component: |ifft(F * (1 - M))| with M the centred low square.

    Args:
        x: Bx3xHxW normalized image.
        rate: area share of the spectrum removed (0.25: the central S/2 x S/2 square).
    Returns:
        Bx3xHxW high-pass magnitude.
    """
    h, w = x.shape[-2:]
    return _filter_spectrum(x, 1.0 - _centred_square(h, w, rate, x.device))


@fp32
def fft_bandpass(x: torch.Tensor, inner: float = 0.05, outer: float = 0.25) -> torch.Tensor:
    """Band-pass ring of the centred spectrum: inside the `outer` square, outside the `inner` one.

    Returns Bx3xHxW magnitude.
    """
    h, w = x.shape[-2:]
    keep = _centred_square(h, w, outer, x.device) - _centred_square(h, w, inner, x.device)
    return _filter_spectrum(x, keep)


def dct_matrix(n: int = 8, device: torch.device | None = None) -> torch.Tensor:
    """Orthonormal DCT-II basis, n x n (row k = frequency k), as in JPEG."""
    k = torch.arange(n, dtype=torch.float64).unsqueeze(1)
    i = torch.arange(n, dtype=torch.float64).unsqueeze(0)
    basis = torch.cos(math.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2.0 / n)
    basis[0] /= math.sqrt(2.0)
    return basis.to(device=device, dtype=torch.float32)


# Zig-zag diagonals u + v of the 8x8 block: DC is 0; AC split in low (1-2), mid (3-6), high (7-14).
DCT_BANDS: dict[str, tuple[int, int]] = {"dct_low": (1, 2), "dct_mid": (3, 6), "dct_high": (7, 14)}


@fp32
def block_dct(x: torch.Tensor, block: int = 8) -> torch.Tensor:
    """Blockwise DCT-II. Bx3xHxW (H, W multiples of block) -> Bx3x(H/b)x(W/b)x b x b coefficients."""
    b, c, h, w = x.shape
    if h % block or w % block:
        raise ValueError(f"block_dct needs H and W divisible by {block}, got {h}x{w}")
    d = dct_matrix(block, x.device)
    blocks = x.float().reshape(b, c, h // block, block, w // block, block).permute(0, 1, 2, 4, 3, 5)
    return d @ blocks @ d.T


@fp32
def block_dct_energy(x: torch.Tensor, bands: tuple[str, ...] = tuple(DCT_BANDS)) -> dict[str, torch.Tensor]:
    """Log energy of each DCT band per 8x8 block: {band: Bx3x(H/8)x(W/8)} = log1p(mean |coef| in band)."""
    coefs = block_dct(x).abs()
    u = torch.arange(8, device=x.device)
    diag = u.unsqueeze(1) + u.unsqueeze(0)
    out = {}
    for name in bands:
        lo, hi = DCT_BANDS[name]
        sel = ((diag >= lo) & (diag <= hi)).float()
        out[name] = torch.log1p((coefs * sel).sum(dim=(-2, -1)) / sel.sum()).to(x.dtype)
    return out
