"""The spectral-slope cue: diffusion models underestimate the highest spatial frequencies (Durall et al.,
CVPR 2020; Frank et al., ICML 2020; Ricker et al., VISAPP 2024), so an edited region has less energy in the
finest band relative to the next one than the camera pixels around it.

:func:`finest_band_ratio` is the per-pixel cue (reusable as a feature or a shortcut statistic);
:func:`spectral_slope` turns it into a training-free detector's map and score. The cue's bands are defined
once, in :mod:`deal.modeling.band_energy`.
"""

from __future__ import annotations

import cv2
import numpy as np

WINDOW = 16  # the residual-kurtosis window, pixels
EPS = 1e-6  # energy floor (in [0, 1] intensity units squared), so flat areas give a finite ratio


def _gray(image: np.ndarray) -> np.ndarray:
    """``HxWx3`` uint8 RGB (or ``HxW``) as float32 luma in [0, 1]."""
    image = np.asarray(image)
    if image.ndim == 3:
        image = cv2.cvtColor(np.ascontiguousarray(image[..., :3]), cv2.COLOR_RGB2GRAY)
    return image.astype(np.float32) / (65535.0 if image.dtype == np.uint16 else 255.0)


def finest_band_ratio(image_uint8: np.ndarray) -> np.ndarray:
    """Per pixel: the local energy of the finest band divided by that of the next band (float32 ``HxW``).

    The one definition of the cue is :func:`deal.modeling.band_energy.finest_band_log_ratio` (the bands and
    windows the model's band-energy stem and the shortcut statistics use too: ``fine = x - G(0.7)``,
    ``next = G(0.7) - G(1.4)``, energies averaged over a Gaussian window of sigma 4, about 16 px); this is its
    exponential on an image array. Lower = less fine detail than the image's next band has: what upsampled
    or diffusion-generated pixels show.
    """
    import torch

    from deal.modeling.band_energy import finest_band_log_ratio

    gray = torch.from_numpy(_gray(image_uint8))[None, None]
    with torch.no_grad():
        return torch.exp(finest_band_log_ratio(gray))[0, 0].numpy().astype(np.float32)


def residual_kurtosis(image_uint8: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """Per pixel: the kurtosis ``E[r^4] / E[r^2]^2`` of the 3x3 median residual ``r`` of luma over a ``window``
    box (float32 ``HxW``). Generated pixels have fewer, sparser residual outliers: higher kurtosis."""
    x = _gray(image_uint8)
    r = x - cv2.medianBlur(np.round(x * 255).astype(np.uint8), 3).astype(np.float32) / 255.0
    box = (window, window)
    # OpenCV's box filter keeps running sums, whose rounding leaves a flat area after a textured one at about
    # -1e-18 instead of 0: the moments of a non-negative quantity are clipped at 0 (else the log is NaN).
    m2 = np.maximum(cv2.blur(r * r, box, borderType=cv2.BORDER_REFLECT), 0.0)
    m4 = np.maximum(cv2.blur(r**4, box, borderType=cv2.BORDER_REFLECT), 0.0)
    return (m4 / (m2 * m2 + 1e-12)).astype(np.float32)


SLOPE_STEEPNESS = 2.0  # the logistic's steepness of the spectral-slope map


def relative_logistic(evidence: np.ndarray, steepness: float) -> np.ndarray:
    """A logistic of ``evidence`` (higher = edited) relative to the image's median: the median maps to 0.5."""
    z = -steepness * (evidence - np.median(evidence))
    return (1.0 / (1.0 + np.exp(np.clip(z, -50, 50)))).astype(np.float32)


def spectral_slope_map(image_uint8: np.ndarray, steepness: float = SLOPE_STEEPNESS, kurtosis_weight: float = 0.0) -> np.ndarray:
    """The cue as a map in [0, 1], per image: a logistic of minus the log ratio relative to the image's
    median (a ratio at the median gives 0.5, lower ratios more), optionally plus ``kurtosis_weight`` times the
    log residual kurtosis. ``float32 HxW``."""
    evidence = -np.log(finest_band_ratio(image_uint8))
    if kurtosis_weight:
        evidence = evidence + kurtosis_weight * np.log(residual_kurtosis(image_uint8) + EPS)
    return relative_logistic(evidence, steepness)


def spectral_slope(image_uint8: np.ndarray) -> tuple[np.ndarray, None]:
    """The training-free baseline detector: ``(map, None)``; the image score is then deal's (mean of the top 1%
    of the map: how far the most deficient 1% of the image falls below its median)."""
    return spectral_slope_map(image_uint8), None


KURTOSIS_WEIGHT = 0.3  # chosen on the CoCoGlide and DEAL-300K fixtures (19 edits): a small gain in lift on both


def spectral_kurtosis(image_uint8: np.ndarray) -> tuple[np.ndarray, None]:
    """The spectral-slope cue plus residual kurtosis (weight :data:`KURTOSIS_WEIGHT` on its log)."""
    return spectral_slope_map(image_uint8, kurtosis_weight=KURTOSIS_WEIGHT), None
