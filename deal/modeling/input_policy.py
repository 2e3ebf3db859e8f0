"""The tensors of THE preprocessing of deal: resize, normalize and pad images into a batch, and map
logits back. The input pipeline (deal.modeling.input_pipeline) calls it for every layer that feeds the
model (training and validation steps, calibration, ``deal benchmark``, ``deal detect``, the ``Detector``
API), the way SAM owns ``preprocess`` / ``postprocess_masks``; the policies (deal.modeling.policies)
decide sizes. Augmentations (albumentations, in deal.data) act before it, on uint8 pixels.

- "sam": SAM's policy. The longest side is resized to `image_size` (bilinear, antialiased, on the
  0-255 float image), the image is normalized with SAM's pixel mean/std and padded bottom-right with
  zeros (the mean colour) to a square. Every pixel is resampled.
- "native": no resampling. The image is normalized and padded bottom-right with zeros to a multiple of
  the patch size (a batch to its largest member); the encoder interpolates its position embeddings to
  the token grid. Large images are tiled by the input pipeline at this resolution.

Images share a batch only when their padded shapes are equal (the policy's ``padded_hw`` of its
``placed_hw``), so that an image's tensor, and so its prediction, never depends on the other images of
its batch.
restore() returns logits at the exact original height and width.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from deal.modeling.policies import INPUT_POLICIES, check_policy, get_policy
from deal.modeling.policies.base import round_up

# SAM's pixel statistics on 0-255 RGB (segment_anything/build_sam.py).
PIXEL_MEAN = (123.675, 116.28, 103.53)
PIXEL_STD = (58.395, 57.12, 57.375)

ImageLike = np.ndarray | torch.Tensor

__all__ = [
    "INPUT_POLICIES", "PIXEL_MEAN", "PIXEL_STD", "Placement", "check_policy", "normalize", "prepare_batch",
    "prepare_masks", "resize_map", "restore", "round_up",
]


@dataclass(frozen=True)
class Placement:
    """Where one image sits inside the batch tensor: (height, width) as given, and as placed."""

    original_hw: tuple[int, int]
    placed_hw: tuple[int, int]


def _as_uint8_hwc(image: ImageLike) -> torch.Tensor:
    t = torch.as_tensor(image)
    if t.ndim != 3 or t.shape[-1] != 3:
        raise ValueError(f"expected an HxWx3 RGB image, got shape {tuple(t.shape)}")
    if t.dtype != torch.uint8:
        raise ValueError(f"expected uint8 pixels on 0-255, got dtype {t.dtype}")
    return t


def normalize(x: torch.Tensor) -> torch.Tensor:
    """(B)x3xHxW float on 0-255 -> SAM-normalized."""
    mean = torch.tensor(PIXEL_MEAN, device=x.device, dtype=x.dtype).view(-1, 1, 1)
    std = torch.tensor(PIXEL_STD, device=x.device, dtype=x.dtype).view(-1, 1, 1)
    return (x - mean) / std


def prepare_batch(
    images: Sequence[ImageLike] | torch.Tensor,
    *,
    policy: str,
    image_size: int,
    patch_size: int = 16,
    device: torch.device | str = "cpu",
    placed: Sequence[tuple[int, int]] | None = None,
) -> tuple[torch.Tensor, list[Placement]]:
    """Images (HxWx3 uint8 RGB, numpy or tensor; or one BxHxWx3 uint8 tensor) -> a normalized float32
    Bx3xH'xW' batch on `device`, and each image's placement.

    placed: the size each image is resized to (bilinear, antialiased: the one resize of deal), as the
    input pipeline plans it; None: the policy's size for a whole image. Pixels travel to `device` as
    uint8 and become float there. Padding is zero after normalization (the mean colour), at the bottom
    and right, to the largest padded shape of the batch (deal.modeling.policies).
    """
    rule = get_policy(policy, image_size, patch_size)
    if isinstance(images, torch.Tensor) and images.ndim == 4:
        stacked = _as_uint8_hwc(images[0]) if len(images) else None  # validates dtype and channels
        b, h, w = images.shape[:3]
        unresized = placed is None or all(tuple(p) == (h, w) for p in placed)
        if stacked is not None and policy == "native" and unresized and h % patch_size == 0 and w % patch_size == 0:
            # Equal shapes, nothing to resize or pad: one vectorized step (elementwise, so the values are
            # bit-identical to the per-image path below).
            x = images.to(device, non_blocking=True).permute(0, 3, 1, 2).float()
            return normalize(x), [Placement((h, w), (h, w))] * b
        images = list(images)
    tensors, placements = [], []
    for i, image in enumerate(images):
        x = _as_uint8_hwc(image).to(device, non_blocking=True).permute(2, 0, 1).float()
        h, w = x.shape[-2:]
        ph, pw = rule.placed_hw(h, w, rule.mode_of(h, w, tile=True)) if placed is None else placed[i]
        if (ph, pw) != (h, w):
            x = F.interpolate(x[None], size=(ph, pw), mode="bilinear", align_corners=False, antialias=True)[0]
        tensors.append(normalize(x))
        placements.append(Placement((int(h), int(w)), (ph, pw)))
    padded = [rule.padded_hw(p.placed_hw) for p in placements]
    bh, bw = max(p[0] for p in padded), max(p[1] for p in padded)
    batch = torch.zeros(len(tensors), 3, bh, bw, device=device)
    for i, (t, p) in enumerate(zip(tensors, placements)):
        batch[i, :, : p.placed_hw[0], : p.placed_hw[1]] = t
    return batch, placements


def prepare_masks(
    masks: Sequence[ImageLike] | torch.Tensor,
    placements: Sequence[Placement],
    batch_hw: tuple[int, int],
) -> torch.Tensor:
    """HxW {0,1} masks -> a Bx1xH'xW' float32 target aligned with prepare_batch's batch: resized (nearest)
    where the image was resized, zero (authentic) in the padding."""
    first = torch.as_tensor(masks[0])
    out = torch.zeros(len(placements), 1, *batch_hw, device=first.device)
    for i, (m, p) in enumerate(zip(masks, placements)):
        m = torch.as_tensor(m).to(out.device).float()
        if m.ndim == 3:
            m = m[0]
        if p.placed_hw != p.original_hw:
            m = F.interpolate(m[None, None], size=p.placed_hw, mode="nearest-exact")[0, 0]
        out[i, 0, : p.placed_hw[0], : p.placed_hw[1]] = m
    return out


def resize_map(m: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """An ``HxW`` map (logits or probabilities) resized bilinearly to ``hw = (height, width)`` as float32
    (unchanged when it already has that size): THE map resize of deal. restore() brings logits back to an
    image's size with it; deal benchmark (a resize perturbation undone, an original of another size than its
    edit's mask), deal evaluate and training validation bring maps to a mask's size with it."""
    m = m.float()
    if tuple(m.shape[-2:]) == tuple(hw):
        return m
    return F.interpolate(m[None, None], size=tuple(hw), mode="bilinear", align_corners=False)[0, 0]


def restore(logits: torch.Tensor, placements: Sequence[Placement]) -> list[torch.Tensor]:
    """Bx1xH'xW' logits -> one HxW float32 logit map per image, at its original size (resize_map)."""
    out = []
    for i, p in enumerate(placements):
        ph, pw = p.placed_hw
        out.append(resize_map(logits[i, 0, :ph, :pw], p.original_hw))
    return out
