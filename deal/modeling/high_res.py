"""The high-resolution path: per-pixel frequency features fused into the decoder's upscaled mask features.

SAM's decoder predicts a mask from 16-px tokens upscaled 4x: nothing finer than a token reaches it, while the
edit's trace (the finest-band deficit of generated pixels, :mod:`deal.modeling.band_energy`) is a per-pixel
property. As HQ-SAM (Ke et al., NeurIPS 2023) fuses early, high-resolution features into the decoder's mask
features for detail, and TruFor runs a full-resolution noise-residual stream beside RGB, this path brings the
band-energy features from full resolution down to the upscaled grid (H/4 x W/4) through a small convolution
stack and adds them to the mask features before the hypernetwork's dot product.

The last convolution is zero-initialised: an untrained path adds nothing, so switching it on does not change
a model's output until training gives it a reason to.
"""

from __future__ import annotations

import torch
from torch import nn

from deal.modeling.band_energy import NUM_FEATURES


class HighResPath(nn.Module):
    """Bx``NUM_FEATURES``xHxW band features (float32) -> Bx``out_dim``x(H/4)x(W/4) mask-feature offsets.

    Conv3x3 at full resolution, GELU, strided Conv3x3 to half resolution, GELU, strided Conv3x3 to a quarter
    (the decoder's upscaled grid), GELU, Conv1x1 to the decoder's mask-feature channels (zero-initialised).
    """

    def __init__(self, *, out_dim: int, width: int = 16) -> None:
        super().__init__()
        if width < 1:
            raise ValueError(f"width must be >= 1, got {width}")
        self.convs = nn.Sequential(
            nn.Conv2d(NUM_FEATURES, width, kernel_size=3, padding=1),
            nn.GELU(),
            nn.Conv2d(width, width, kernel_size=3, stride=2, padding=1),
            nn.GELU(),
            nn.Conv2d(width, width, kernel_size=3, stride=2, padding=1),
            nn.GELU(),
        )
        self.out = nn.Conv2d(width, out_dim, kernel_size=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, features: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
        """features Bx``NUM_FEATURES``xHxW (H, W multiples of 4) -> Bx``out_dim``x(H/4)x(W/4)."""
        return self.out(self.convs(features.to(dtype or features.dtype)))
