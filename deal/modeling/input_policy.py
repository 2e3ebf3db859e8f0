"""Input policies: how an image of any size becomes the model's input, and how logits map back.

- "sam": SAM's policy. The longest side is resized to `image_size` (bilinear, antialiased), the image is
  padded bottom-right to a square and normalized with SAM's pixel mean/std. Every pixel is resampled.
- "native": no resampling. The image is padded bottom-right to a multiple of the patch size (a batch to
  its largest member); the encoder interpolates its position embeddings to the token grid. Large images
  are tiled by deal.inference at this resolution.

Either way restore() returns logits at the exact original height and width.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

# SAM's pixel statistics on 0-255 RGB (segment_anything/build_sam.py).
PIXEL_MEAN = (123.675, 116.28, 103.53)
PIXEL_STD = (58.395, 57.12, 57.375)


@dataclass(frozen=True)
class Placement:
    """Where one image sits inside the batch tensor: (height, width) as given, and as placed."""

    original_hw: tuple[int, int]
    placed_hw: tuple[int, int]


def to_tensor(image: np.ndarray | torch.Tensor) -> torch.Tensor:
    """HxWx3 uint8 RGB (numpy or tensor) -> 3xHxW float32 tensor on 0-255."""
    t = torch.as_tensor(image)
    if t.ndim != 3 or t.shape[-1] != 3:
        raise ValueError(f"expected an HxWx3 RGB image, got shape {tuple(t.shape)}")
    return t.permute(2, 0, 1).float()


def normalize(x: torch.Tensor) -> torch.Tensor:
    """(B)x3xHxW on 0-255 -> SAM-normalized."""
    mean = torch.tensor(PIXEL_MEAN, device=x.device, dtype=x.dtype).view(-1, 1, 1)
    std = torch.tensor(PIXEL_STD, device=x.device, dtype=x.dtype).view(-1, 1, 1)
    return (x - mean) / std


def _round_up(v: int, m: int) -> int:
    return -(-v // m) * m


def sam_resized_hw(h: int, w: int, image_size: int) -> tuple[int, int]:
    scale = image_size / max(h, w)
    return max(1, int(h * scale + 0.5)), max(1, int(w * scale + 0.5))


def prepare_batch(
    images: Sequence[np.ndarray | torch.Tensor],
    *,
    policy: str,
    image_size: int,
    patch_size: int = 16,
    device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, list[Placement]]:
    """Images (HxWx3 uint8 RGB) -> a normalized Bx3xSxS' batch on `device` and each one's placement.

    Padding is zero after normalization (the mean colour), at the bottom and right.
    """
    if policy not in ("sam", "native"):
        raise ValueError(f"unknown input policy {policy!r}; choose 'sam' or 'native'")
    tensors, placements = [], []
    for image in images:
        x = to_tensor(image).to(device, non_blocking=True)
        h, w = x.shape[-2:]
        if policy == "sam":
            rh, rw = sam_resized_hw(h, w, image_size)
            if (rh, rw) != (h, w):
                x = F.interpolate(x[None], size=(rh, rw), mode="bilinear", align_corners=False, antialias=True)[0]
            placed = (rh, rw)
        else:
            placed = (h, w)
        tensors.append(normalize(x))
        placements.append(Placement((int(h), int(w)), placed))
    if policy == "sam":
        ph = pw = image_size
    else:
        ph = _round_up(max(p.placed_hw[0] for p in placements), patch_size)
        pw = _round_up(max(p.placed_hw[1] for p in placements), patch_size)
    batch = torch.zeros(len(tensors), 3, ph, pw, device=device)
    for i, (t, p) in enumerate(zip(tensors, placements)):
        batch[i, :, : p.placed_hw[0], : p.placed_hw[1]] = t
    return batch, placements


def restore(logits: torch.Tensor, placements: Sequence[Placement]) -> list[torch.Tensor]:
    """Bx1xSxS' logits -> one HxW float32 logit map per image, at its original size."""
    out = []
    for i, p in enumerate(placements):
        ph, pw = p.placed_hw
        m = logits[i : i + 1, :, :ph, :pw].float()
        if p.placed_hw != p.original_hw:
            m = F.interpolate(m, size=p.original_hw, mode="bilinear", align_corners=False)
        out.append(m[0, 0])
    return out
