"""The learning-rate schedule (torch's LinearLR + CosineAnnealingLR) follows the warmup-cosine curve."""

from __future__ import annotations

import math

import pytest
import torch

from deal.training.schedule import warmup_cosine


def reference(step: int, *, peak: float, warmup: int, total: int, floor: float) -> float:
    """Linear warmup to the peak ((step + 1) / warmup), then a cosine from the peak to the floor."""
    if warmup > 0 and step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * progress))


@pytest.mark.parametrize("warmup, total", [(10, 100), (1, 30), (0, 30), (25, 50)])
def test_the_schedule_is_the_warmup_cosine_curve(warmup, total):
    peak, floor = 2e-4, 1e-7
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=peak)
    scheduler = warmup_cosine(optimizer, warmup_steps=warmup, total_steps=total, min_lr=floor)
    got = []
    for _ in range(total):
        got.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    want = [reference(s, peak=peak, warmup=warmup, total=total, floor=floor) for s in range(total)]
    assert got == pytest.approx(want, rel=1e-6, abs=1e-12)
    assert got[warmup if warmup > 1 else 0] == pytest.approx(peak) and min(got) >= floor
