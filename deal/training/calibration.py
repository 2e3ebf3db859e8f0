"""Choosing a detector's thresholds on validation images.

- The pixel threshold (the mask: p > t): the grid value that maximizes mean per-image F1 over the edited
  images (pixel_f1's convention). Per-image F1 at every grid value comes from
  deal.metrics.functional.f1_at_thresholds: one bucketize and two histograms per image, O(N + K)
  memory, never a thresholds x pixels matrix.
- The verdict's two image thresholds (deal.metrics.image_score.verdict): `high`, the lowest score above
  which (score >= high) the validation images are edited with at least `precision`; `low`, the highest
  score below which (score < low) they are authentic with at least `precision`. Precision is taken at equal
  class priors (rates, not counts), so the validation set's own share of authentic images does not move
  the thresholds. Between them the verdict
  is inconclusive. A detector that cannot separate the classes gets a wide inconclusive band instead of
  a guess. When the two bands overlap (the classes separate at that precision), both thresholds become
  the single score with the best balanced accuracy between them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from deal.metrics.functional import (
    binarize_target,
    counts_above,
    f1_at_thresholds,
    image_balanced_accuracy,
    image_decisions,
)
from deal.training.defaults import DEFAULT_PRECISION

DEFAULT_GRID = tuple(round(t, 3) for t in np.arange(0.05, 0.951, 0.025))


def choose_threshold(
    pairs: Iterable[tuple[torch.Tensor, torch.Tensor]], grid: tuple[float, ...] = DEFAULT_GRID
) -> dict[str, float]:
    """pairs of (HxW probability map, HxW target mask). Authentic images (empty target) are skipped for F1
    and give the false-alarm area at the chosen threshold. Returns threshold, pixel_f1 there, the F1 at
    0.5, false_alarm_area, n_edited, n_authentic."""
    g = torch.tensor(grid, dtype=torch.float32)
    f1_sum = torch.zeros(len(grid), dtype=torch.float64)
    flagged_sum = torch.zeros(len(grid), dtype=torch.float64)
    n_edited = n_authentic = 0
    for prob, target in pairs:
        prob, target = torch.as_tensor(prob), torch.as_tensor(target)
        if bool(binarize_target(target).any()):
            f1_sum += f1_at_thresholds(prob, target, g)
            n_edited += 1
        else:
            tp, fp = counts_above(prob, torch.zeros(prob.shape, dtype=torch.bool), g)
            flagged_sum += fp.to(torch.float64) / max(prob.numel(), 1)
            n_authentic += 1
    if n_edited == 0:
        raise ValueError("threshold calibration needs at least one edited image")
    mean_f1 = f1_sum / n_edited
    best = int(torch.argmax(mean_f1))
    at_half = int(torch.argmin((g - 0.5).abs()))
    return {
        "threshold": float(grid[best]),
        "pixel_f1": float(mean_f1[best]),
        "pixel_f1_at_0.5": float(mean_f1[at_half]),
        "false_alarm_area": float(flagged_sum[best] / n_authentic) if n_authentic else float("nan"),
        "n_edited": n_edited,
        "n_authentic": n_authentic,
    }


def _balanced_precision(called: np.ndarray, positive: np.ndarray) -> float:
    """Precision of `called` for the `positive` class at equal class priors: hit rate / (hit rate + false
    alarm rate). The validation set's own mix of edited and authentic images does not move it."""
    hit, false_alarm = called[positive].mean(), called[~positive].mean()
    return float(hit / (hit + false_alarm)) if hit + false_alarm > 0 else 0.0


def _bacc(s: np.ndarray, y: np.ndarray, low: float, high: float) -> float:
    return float(image_balanced_accuracy(torch.from_numpy(s), torch.from_numpy(y), low, high))


def choose_image_thresholds(
    scores: list[float], labels: list[int], precision: float = DEFAULT_PRECISION
) -> dict[str, Any] | None:
    """The verdict's (low, high) on validation image scores (see the module docstring), or None when the
    validation data lacks either class. Candidates are the validation scores themselves (and 1.0)."""
    if not 0.5 <= precision <= 1.0:
        raise ValueError(f"precision must be in [0.5, 1], got {precision}")
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    if y.all() or not y.any():
        return None
    candidates = np.unique(np.append(s, 1.0))
    high, low = None, 0.0
    for t in candidates:  # ascending: the first that reaches the precision is the lowest
        called, _ = image_decisions(torch.from_numpy(s), t, t)
        if _balanced_precision(called.numpy(), y) >= precision:
            high = float(t)
            break
    for t in candidates[::-1]:  # descending: the first that reaches it is the highest
        _, called = image_decisions(torch.from_numpy(s), t, t)
        if _balanced_precision(called.numpy(), ~y) >= precision:
            low = float(t)
            break
    reached = high is not None
    high = 1.0 if high is None else high
    if low > high:  # the bands overlap: one threshold, the best balanced accuracy between them
        inside = candidates[(candidates >= high) & (candidates <= low)]
        baccs = [_bacc(s, y, t, t) for t in inside]
        low = high = float(inside[int(np.argmax(baccs))])
    edited, authentic = image_decisions(torch.from_numpy(s), low, high)
    return {
        "image_thresholds": [low, high],
        "verdict_precision": precision,
        "precision_reached": reached,
        "image_bacc": _bacc(s, y, low, high),
        "inconclusive_fraction": float((~edited & ~authentic).double().mean()),
    }

