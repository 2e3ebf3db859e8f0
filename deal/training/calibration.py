"""Choosing the detector's threshold on validation images: the one that maximizes mean per-image F1
over the edited images (pixel_f1's convention), from per-image confusion counts on a threshold grid."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

DEFAULT_GRID = tuple(round(t, 2) for t in np.arange(0.05, 0.951, 0.025))


def f1_per_threshold(prob: torch.Tensor, target: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """F1 of one image (HxW probabilities, HxW {0,1} target) at each threshold of `grid` (K,) -> (K,)."""
    p = prob.flatten().float()
    t = target.flatten().bool()
    flagged = p.unsqueeze(0) > grid.unsqueeze(1)  # K x N
    tp = (flagged & t).sum(1).float()
    fp = (flagged & ~t).sum(1).float()
    fn = (~flagged & t).sum(1).float()
    denom = 2 * tp + fp + fn
    return torch.where(denom > 0, 2 * tp / denom.clamp(min=1), torch.zeros_like(denom))


def choose_threshold(
    pairs: Iterable[tuple[torch.Tensor, torch.Tensor]], grid: tuple[float, ...] = DEFAULT_GRID
) -> dict[str, float]:
    """pairs of (probability map, target mask). Authentic images (empty target) are skipped for F1 and
    give the false-alarm area at the chosen threshold. Returns threshold, pixel_f1 there, the F1 at 0.5,
    false_alarm_area, n_edited, n_authentic."""
    g = torch.tensor(grid, dtype=torch.float32)
    f1_sum = torch.zeros(len(grid))
    flagged_sum = torch.zeros(len(grid))
    n_edited = n_authentic = 0
    for prob, target in pairs:
        if target.any():
            f1_sum += f1_per_threshold(prob, target, g)
            n_edited += 1
        else:
            flagged_sum += (prob.flatten().unsqueeze(0) > g.unsqueeze(1)).float().mean(1)
            n_authentic += 1
    if n_edited == 0:
        raise ValueError("threshold calibration needs at least one edited image")
    mean_f1 = f1_sum / n_edited
    best = int(torch.argmax(mean_f1))
    at_half = int(torch.argmin((g - 0.5).abs()))
    return {
        "threshold": round(float(g[best]), 6),
        "pixel_f1": float(mean_f1[best]),
        "pixel_f1_at_0.5": float(mean_f1[at_half]),
        "false_alarm_area": float(flagged_sum[best] / n_authentic) if n_authentic else float("nan"),
        "n_edited": n_edited,
        "n_authentic": n_authentic,
    }


def choose_image_threshold(
    scores: list[float], labels: list[int], grid: tuple[float, ...] = DEFAULT_GRID
) -> dict[str, float] | None:
    """The image-score threshold with the best balanced accuracy (edited vs authentic images), or None
    when the validation data lacks either class."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    if y.all() or not y.any():
        return None
    best_t, best_bacc = grid[0], -1.0
    for t in grid:
        flagged = s >= t
        bacc = 0.5 * (flagged[y].mean() + (~flagged[~y]).mean())
        if bacc > best_bacc:
            best_t, best_bacc = t, float(bacc)
    return {"image_threshold": round(float(best_t), 6), "image_bacc": best_bacc}
