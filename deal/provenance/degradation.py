"""Notes on inputs whose pixels carry less evidence: recompressed at low quality, very small, or upscaled
(or otherwise smoothed). They qualify the detector's verdict on that file; they do not replace it."""

from __future__ import annotations

from typing import Any

import numpy as np

from deal.provenance.limits import MAX_PIXEL_CROP

LOW_QUALITY = 70  # JPEG quality at or below which fine traces are largely erased
SMALL_SIDE = 256  # shorter side (pixels) below which an image is "very small"
# Spectral energy at 0.3-0.5 cycles/pixel over 0.08-0.2: natural photographs (BSDS500, Kodak, even at JPEG
# quality 40) measure 0.08 and above; the same photographs upscaled 2x (bicubic) measure 0.03 and below.
LITTLE_DETAIL = 0.04
SPECTRUM_CROP = min(512, MAX_PIXEL_CROP)  # the spectrum is measured on a central crop of this side


def high_frequency_ratio(gray: np.ndarray) -> float | None:
    """Energy in the top frequency band over a middle band, on a central crop (Hann-windowed)."""
    h, w = gray.shape
    c = min(h, w, SPECTRUM_CROP) // 2 * 2
    if c < 64:
        return None
    top, left = (h - c) // 2, (w - c) // 2
    g = gray[top : top + c, left : left + c].astype(np.float64)
    g -= g.mean()
    window = np.hanning(c)
    power = np.abs(np.fft.fft2(g * window[:, None] * window[None, :])) ** 2
    f = np.fft.fftfreq(c)
    r = np.hypot(f[:, None], f[None, :])
    mid = power[(r > 0.08) & (r <= 0.2)].sum()
    if mid <= 0:
        return None
    return float(power[(r > 0.3) & (r <= 0.5)].sum() / mid)


def degradation(
    width: int, height: int, gray: np.ndarray | None, jpeg: dict[str, Any] | None
) -> dict[str, Any]:
    """{"notes": [...], "high_frequency_ratio": float | None}."""
    notes = []
    quality = (jpeg or {}).get("quality")
    if quality is not None and quality <= LOW_QUALITY:
        notes.append(
            f"saved at low JPEG quality (about {quality}): compression erases part of the fine traces the "
            "detector reads, so a low score here is weaker evidence that the image is unedited"
        )
    if min(width, height) < SMALL_SIDE:
        notes.append(
            f"very small ({width}x{height} pixels): little to analyse, the heatmap is coarse and small edits "
            "can be missed"
        )
    ratio = high_frequency_ratio(gray) if gray is not None else None
    if ratio is not None and ratio < LITTLE_DETAIL:
        notes.append(
            "little fine detail for its size (upscaled, blurred or smoothed): such processing weakens the "
            "traces the detector reads, in edited and unedited areas alike"
        )
    return {"notes": notes, "high_frequency_ratio": None if ratio is None else round(ratio, 4)}
