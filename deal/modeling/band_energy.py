"""Scale-invariant band-energy features at full resolution, and the stem that brings them to the token grid.

Diffusion models under-render the highest spatial frequencies (Durall et al., CVPR 2020; Frank et al.,
ICML 2020; Ricker et al., VISAPP 2024): inside a generated region the energy of the finest band is low
*relative to the next band*, whatever the region's contrast. A stride-16 patch embedding of a high-pass image
(EVP's prompt) mixes that band away before any ratio can be formed, and a band energy measured in absolute
units mostly says "textured object". So the features here are, per pixel:

- log band energies ``log(eps + E_k)`` of a difference-of-Gaussians pyramid (sigma 0.7, 1.4, 2.8, 5.6:
  band 0 = image - G(0.7), band k = G(s_{k-1}) - G(s_k)), each energy a local mean of the squared band over
  a Gaussian window (sigma 4, about 16 px);
- the log ratios of neighbouring bands (finest/next first): contrast cancels;
- all of the above again relative to the image's own median (the camera's and the JPEG's overall level
  cancels, what stands out locally remains).

Computed on the luminance in float32 whatever the caller's autocast. The Gaussian filters are written as
separable convolutions because torchvision's ``gaussian_blur`` takes an odd kernel size per call and
reflect-pads the same way; doing it here keeps the exact sigmas and one padding rule for every band.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from deal.modeling.frequency import fp32

# Difference-of-Gaussians scales: band 0 is the finest (image minus G(0.7)), band k = G(s_{k-1}) - G(s_k).
BAND_SIGMAS: tuple[float, ...] = (0.7, 1.4, 2.8, 5.6)
# Local energy window (Gaussian sigma in pixels; about a 16-pixel neighbourhood).
ENERGY_SIGMA: float = 4.0
EPS: float = 1e-8
# Channels: log energies (one per band), neighbour log ratios, and both again relative to the image median.
NUM_FEATURES: int = 2 * (len(BAND_SIGMAS) + len(BAND_SIGMAS) - 1)
# Channel of the finest/next log ratio, and of the same ratio relative to the image's median (the cue).
FINEST_RATIO: int = len(BAND_SIGMAS)
FINEST_RATIO_RELATIVE: int = (2 * len(BAND_SIGMAS) - 1) + FINEST_RATIO
# Luminance weights (ITU-R BT.601), applied to the normalized channels (an affine map per channel: band
# energies scale, their ratios do not).
_LUMA = (0.299, 0.587, 0.114)


def _gaussian_kernel(sigma: float, device: torch.device) -> torch.Tensor:
    radius = max(1, math.ceil(3.0 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32, device=device)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of a Bx1xHxW float tensor, reflect-padded (replicate where too small)."""
    k = _gaussian_kernel(sigma, x.device)
    r = k.numel() // 2
    h, w = x.shape[-2:]
    mode = "reflect" if r < h and r < w else "replicate"
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode=mode), k.view(1, 1, 1, -1))
    return F.conv2d(F.pad(x, (0, 0, r, r), mode=mode), k.view(1, 1, -1, 1))


def luminance(image: torch.Tensor) -> torch.Tensor:
    """Bx3xHxW -> Bx1xHxW (BT.601 weights); a 1-channel input is returned as it is."""
    if image.shape[1] == 1:
        return image
    w = torch.tensor(_LUMA, dtype=image.dtype, device=image.device).view(1, 3, 1, 1)
    return (image * w).sum(dim=1, keepdim=True)


def log_band_energies(gray: torch.Tensor) -> torch.Tensor:
    """Bx1xHxW luminance -> BxKxHxW log local energies of the K difference-of-Gaussians bands (finest first)."""
    previous = gray
    energies = []
    for sigma in BAND_SIGMAS:
        blurred = gaussian_blur(gray, sigma)
        band = previous - blurred
        energies.append(torch.log(EPS + gaussian_blur(band * band, ENERGY_SIGMA)))
        previous = blurred
    return torch.cat(energies, dim=1)


@fp32
def band_energy_features(image: torch.Tensor) -> torch.Tensor:
    """Bx3xHxW (normalized) image -> Bx``NUM_FEATURES``xHxW float32 per-pixel band features.

    Channels: K log energies, K-1 neighbour log ratios (finest/next first), then the same 2K-1 channels
    minus their per-image median. Log energies are shifted by a fixed constant so that typical values sit
    near zero (the features feed a convolution without a normalization layer).
    """
    logs = log_band_energies(luminance(image.float()))
    ratios = logs[:, :-1] - logs[:, 1:]
    raw = torch.cat([(logs + 8.0) / 4.0, ratios], dim=1)
    median = raw.flatten(2).median(dim=2).values[..., None, None]
    return torch.cat([raw, raw - median], dim=1)


def finest_band_log_ratio(image: torch.Tensor) -> torch.Tensor:
    """Bx3xHxW (or Bx1xHxW) -> Bx1xHxW: log(E_finest / E_next), the per-pixel cue (lower = less fine detail)."""
    return band_energy_features(image)[:, FINEST_RATIO : FINEST_RATIO + 1]


class BandEnergyStem(nn.Module):
    """Per-pixel band features -> a small full-resolution convolutional stem -> Bxhxwxr on the token grid.

    Conv3x3 (features -> width) at full resolution, GELU, then two strided convolutions (stride 4 and
    patch_size / 4) down to the patch grid, so the finest band is compared with its neighbours before
    any stride-16 patchify.
    """

    def __init__(self, *, prompt_dim: int, patch_size: int = 16, width: int = 32) -> None:
        super().__init__()
        if patch_size % 4:
            raise ValueError(f"patch_size must be a multiple of 4 for the band-energy stem, got {patch_size}")
        self.stem = nn.Sequential(
            nn.Conv2d(NUM_FEATURES, width, kernel_size=3, padding=1),
            nn.GELU(),
            nn.Conv2d(width, width, kernel_size=4, stride=4),
            nn.GELU(),
            nn.Conv2d(width, prompt_dim, kernel_size=patch_size // 4, stride=patch_size // 4),
        )

    def forward(
        self, image: torch.Tensor, dtype: torch.dtype | None = None, features: torch.Tensor | None = None
    ) -> torch.Tensor:
        """image Bx3xHxW (H, W multiples of patch_size) -> Bxhxwxr; ``features``: the image's
        :func:`band_energy_features` where the caller already has them."""
        features = band_energy_features(image) if features is None else features
        return self.stem(features.to(dtype or image.dtype)).permute(0, 2, 3, 1)
