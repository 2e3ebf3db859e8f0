"""The model as a learned residual on the training-free cue.

The spectral-slope baseline (:mod:`deal.baselines.spectral`) maps each pixel's finest-band log ratio, relative
to the image's median, through a logistic of steepness 2. With ``cue_residual`` on, MFPT's output logits are

    logit = scale * cue_logit + bias + gate * decoder_logit,    cue_logit = -(finest log ratio - its median)

with ``scale`` initialised to that steepness, ``bias`` to 0 and ``gate`` to 0 (ReZero: Bachlechner et al.,
2020). An untrained model therefore reproduces the baseline's map (up to the luminance: here it is taken from
the normalized channels), and training has to earn every departure from it: the decoder's contribution grows
only as far as it lowers the loss. The gate's gradient is the decoder's logit times the loss gradient, so the
decoder starts learning from the first step.
"""

from __future__ import annotations

import torch
from torch import nn

from deal.modeling.band_energy import FINEST_RATIO_RELATIVE

# The baseline's logistic steepness (deal.baselines.spectral.spectral_slope_map's default).
CUE_STEEPNESS: float = 2.0


def cue_logit(features: torch.Tensor) -> torch.Tensor:
    """Bx``NUM_FEATURES``xHxW band features -> Bx1xHxW: minus the finest-band log ratio relative to the image's
    median (higher = less fine detail than the rest of the image: the edit's trace)."""
    return -features[:, FINEST_RATIO_RELATIVE : FINEST_RATIO_RELATIVE + 1]


class CueResidual(nn.Module):
    """``scale * cue_logit + bias + gate * decoder_logits`` (three learned scalars; see the module doc)."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(CUE_STEEPNESS))
        self.bias = nn.Parameter(torch.tensor(0.0))
        self.gate = nn.Parameter(torch.tensor(0.0))

    def forward(self, decoder_logits: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """decoder_logits Bx1xHxW (float32), features Bx``NUM_FEATURES``xHxW -> Bx1xHxW logits."""
        return self.scale * cue_logit(features.float()) + self.bias + self.gate * decoder_logits
