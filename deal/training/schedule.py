"""Linear warmup then cosine decay to a floor, per optimizer step, from torch's own schedulers."""

from __future__ import annotations

import torch
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, LRScheduler, SequentialLR


def warmup_cosine(
    optimizer: torch.optim.Optimizer, *, warmup_steps: int, total_steps: int, min_lr: float
) -> LRScheduler:
    """lr = peak * (step + 1) / warmup_steps during the warmup, then a cosine from the peak down to min_lr
    at total_steps (SequentialLR of LinearLR and CosineAnnealingLR; stepped once per optimizer step)."""
    span = max(1, total_steps - warmup_steps)
    cosine = CosineAnnealingLR(optimizer, T_max=span, eta_min=min_lr)
    if warmup_steps <= 0:
        return cosine
    warmup = LinearLR(  # (step + 1) / warmup_steps: the peak at the last warmup step
        optimizer, start_factor=1.0 / warmup_steps, end_factor=1.0, total_iters=max(1, warmup_steps - 1)
    )
    return SequentialLR(optimizer, [warmup, cosine], milestones=[warmup_steps])
