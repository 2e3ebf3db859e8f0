"""Segmentation losses on logits (Bx1xHxW) against {0,1} masks, with an optional validity mask."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def soft_iou_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """1 - soft IoU per image (SAM-Adapter's IoU loss), mean over the batch."""
    p = logits.sigmoid().flatten(1)
    t = target.flatten(1)
    inter = (p * t).sum(1)
    union = (p + t - p * t).sum(1)
    return (1 - (inter + eps) / (union + eps)).mean()


def dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    p = logits.sigmoid().flatten(1)
    t = target.flatten(1)
    return (1 - (2 * (p * t).sum(1) + eps) / (p.sum(1) + t.sum(1) + eps)).mean()


LOSSES = ("bce_iou", "bce_dice", "bce")


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor, kind: str = "bce_iou", pos_weight: float = 1.0) -> torch.Tensor:
    """BCE-with-logits plus soft IoU (default) or Dice."""
    if kind not in LOSSES:
        raise ValueError(f"unknown loss {kind!r}; choose from {list(LOSSES)}")
    weight = torch.tensor(pos_weight, device=logits.device) if pos_weight != 1.0 else None
    bce = F.binary_cross_entropy_with_logits(logits.float(), target.float(), pos_weight=weight)
    if kind == "bce":
        return bce
    region = soft_iou_loss if kind == "bce_iou" else dice_loss
    return bce + region(logits.float(), target.float())
