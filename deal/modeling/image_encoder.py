"""SAM's ViT image encoder, built from timm's VisionTransformerSAM.

timm's implementation routes attention through torch.nn.functional.scaled_dot_product_attention with the
decomposed relative-position bias as the attention mask (segment-anything's ImageEncoderViT builds the
attention matrix by hand), resamples the absolute position embeddings and the rel-pos tables for token
grids other than the pretraining one (the native input policy), and its parameters map one-to-one onto
the official checkpoint's `image_encoder.*` keys (`mlp.lin*` -> `mlp.fc*`). tests/modeling checks its
output against segment-anything's ImageEncoderViT with the same weights.
"""

from __future__ import annotations

from functools import partial

import torch
from timm.models.vision_transformer_sam import VisionTransformerSAM
from torch import nn

from deal.modeling.config import EncoderSpec
from deal.modeling.rel_pos_attention import set_attention_backend


def build_image_encoder(spec: EncoderSpec, attention: str = "auto") -> VisionTransformerSAM:
    """A SAM ViT encoder with the given hyper-parameters; forward_features: Bx3xHxW -> Bx256x(H/16)x(W/16).

    attention: the global blocks' backend ("auto", "sdpa", "flex"; deal.modeling.rel_pos_attention);
    windowed blocks use timm's SDPA attention.
    """
    encoder = VisionTransformerSAM(
        img_size=spec.pretrain_size,
        patch_size=spec.patch_size,
        embed_dim=spec.embed_dim,
        depth=spec.depth,
        num_heads=spec.num_heads,
        mlp_ratio=4.0,
        qkv_bias=True,
        norm_layer=partial(nn.LayerNorm, eps=1e-6),
        use_abs_pos=True,
        use_rel_pos=True,
        window_size=spec.window_size,
        global_attn_indexes=spec.global_attn_indexes,
        neck_chans=spec.neck_dim,
        num_classes=0,
        global_pool="",
    )
    set_attention_backend(encoder, attention)
    return encoder


def add_position_embedding(encoder: VisionTransformerSAM, tokens: torch.Tensor) -> torch.Tensor:
    """tokens BxhxwxD + the absolute position embedding, resampled to the token grid when it differs."""
    from timm.layers import resample_abs_pos_embed_nhwc

    if encoder.pos_embed is None:
        return tokens
    return tokens + resample_abs_pos_embed_nhwc(encoder.pos_embed, tokens.shape[1:3])
