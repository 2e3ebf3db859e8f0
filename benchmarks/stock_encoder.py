"""segment-anything's stock ImageEncoderViT with the hyper-parameters of one of deal's encoder sizes.

The reference of the speed benchmark (row 1). Random weights: speed does not depend on values. The stock
encoder adds its absolute position embedding without resampling, so it is built for the benchmark's input
size (img_size = image_size) rather than the size's pretraining resolution.
"""

from __future__ import annotations

from functools import partial

import torch
from segment_anything.modeling import ImageEncoderViT

from deal.modeling.config import ENCODER_SPECS


def build_stock_encoder(size: str, image_size: int) -> ImageEncoderViT:
    """ImageEncoderViT (segment_anything/build_sam.py's arguments) for ENCODER_SPECS[size] at image_size.

    forward: Bx3xSxS (S = image_size) -> Bx(neck_dim)x(S/16)x(S/16).
    """
    if size not in ENCODER_SPECS:
        raise ValueError(f"unknown encoder size {size!r}; choose from {list(ENCODER_SPECS)}")
    spec = ENCODER_SPECS[size]
    if image_size % spec.patch_size:
        raise ValueError(f"image_size {image_size} is not a multiple of the patch size {spec.patch_size}")
    return ImageEncoderViT(
        depth=spec.depth,
        embed_dim=spec.embed_dim,
        img_size=image_size,
        mlp_ratio=4,
        norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
        num_heads=spec.num_heads,
        patch_size=spec.patch_size,
        qkv_bias=True,
        use_rel_pos=True,
        global_attn_indexes=spec.global_attn_indexes,
        window_size=spec.window_size,
        out_chans=spec.neck_dim,
    )
