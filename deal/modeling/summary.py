"""Parameter and FLOP counts of an MFPT model, per part (the `deal model-info` card)."""

from __future__ import annotations

from typing import Any

import torch

from deal.modeling.mfpt import MFPT

PARTS = {
    "encoder": ("image_encoder.",),
    "prompts": ("prompt_generator.",),
    "decoder": ("mask_decoder.", "prompt_encoder."),
}


def parameter_counts(model: MFPT) -> dict[str, Any]:
    """{'params_total', 'params_trainable', 'params_frozen', 'parts': {part: {'total', 'trainable'}}}."""
    parts = {name: {"total": 0, "trainable": 0} for name in PARTS}
    for key, p in model.named_parameters():
        part = next(name for name, prefixes in PARTS.items() if key.startswith(prefixes))
        parts[part]["total"] += p.numel()
        parts[part]["trainable"] += p.numel() if p.requires_grad else 0
    total = sum(v["total"] for v in parts.values())
    trainable = sum(v["trainable"] for v in parts.values())
    return {"params_total": total, "params_trainable": trainable, "params_frozen": total - trainable, "parts": parts}


def flops_per_image(model: MFPT, height: int, width: int | None = None) -> int:
    """FLOPs of one forward pass (matrix multiplies and convolutions, torch.utils.flop_counter), counted
    on a meta-device copy so no real computation runs."""
    from torch.utils.flop_counter import FlopCounterMode

    width = width or height
    with torch.device("meta"):
        meta = MFPT(model.config)
    meta.eval().requires_grad_(False)  # (FlopCounterMode's module tracker fails under no_grad)
    x = torch.empty(1, 3, height, width, device="meta")
    counter = FlopCounterMode(display=False)
    with counter:
        meta(x)
    return int(counter.get_total_flops())
