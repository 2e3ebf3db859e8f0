"""The model as a learned residual on the training-free cue.

The spectral-slope baseline (:mod:`deal.baselines.spectral`) maps each pixel's finest-band log ratio, relative
to the image's median, through a logistic of steepness 2. With ``cue_residual`` on, MFPT's output logits are

    logit = scale * cue_logit + sum_k w_k * G(s_k) * cue_logit + bias + gate * decoder_logit,
    cue_logit = -(finest log ratio - its median)

with ``scale`` initialised to that steepness, the weights ``w_k`` of the cue smoothed by Gaussians of sigma
``s_k`` (``cue_smoothing``: a region-sized average of the per-pixel evidence), ``bias`` and ``gate`` to 0 (ReZero: Bachlechner et al.,
2020). An untrained model therefore reproduces the baseline's map (up to the luminance: here it is taken from
the normalized channels), and training has to earn every departure from it: the decoder's contribution grows
only as far as it lowers the loss. The gate's gradient is the decoder's logit times the loss gradient, so the
decoder starts learning from the first step.
"""

from __future__ import annotations

import torch
from torch import nn

from deal.modeling.band_energy import FINEST_RATIO_RELATIVE, gaussian_blur

# The baseline's logistic steepness (deal.baselines.spectral.spectral_slope_map's default).
CUE_STEEPNESS: float = 2.0


def cue_logit(features: torch.Tensor) -> torch.Tensor:
    """Bx``NUM_FEATURES``xHxW band features -> Bx1xHxW: minus the finest-band log ratio relative to the image's
    median (higher = less fine detail than the rest of the image: the edit's trace)."""
    return -features[:, FINEST_RATIO_RELATIVE : FINEST_RATIO_RELATIVE + 1]


class CueResidual(nn.Module):
    """``scale * cue + sum_k w_k * G(s_k) cue + bias + gate * decoder_logits`` (learned scalars; see the module
    doc). ``smoothing``: the sigmas ``s_k`` in pixels (none: the cue at its own resolution only); ``init``: the
    initial ``(scale, w_1, ..., w_k)`` (default: the baseline's steepness, then zeros)."""

    def __init__(self, smoothing: tuple[float, ...] = (), init: tuple[float, ...] = ()) -> None:
        super().__init__()
        if any(s <= 0 for s in smoothing):
            raise ValueError(f"cue smoothing sigmas must be > 0, got {smoothing}")
        self.smoothing = tuple(float(s) for s in smoothing)
        init = tuple(init) or (CUE_STEEPNESS, *(0.0 for _ in self.smoothing))
        if len(init) != 1 + len(self.smoothing):
            raise ValueError(f"init needs {1 + len(self.smoothing)} weights, got {init}")
        self.scale = nn.Parameter(torch.tensor(float(init[0])))
        if self.smoothing:
            self.smoothed_scale = nn.Parameter(torch.tensor([float(w) for w in init[1:]]))
        self.bias = nn.Parameter(torch.tensor(0.0))
        self.gate = nn.Parameter(torch.tensor(0.0))

    def forward(self, decoder_logits: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """decoder_logits Bx1xHxW (float32), features Bx``NUM_FEATURES``xHxW -> Bx1xHxW logits."""
        cue = cue_logit(features.float())
        out = self.scale * cue + self.bias + self.gate * decoder_logits
        for weight, sigma in zip(self.smoothed_scale if self.smoothing else (), self.smoothing):
            out = out + weight * gaussian_blur(cue, sigma)
        return out
