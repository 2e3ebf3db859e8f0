"""Tiny SAMs built from segment-anything's own modules, saved in the official checkpoint format."""

from __future__ import annotations

from pathlib import Path

import torch
from deal_benchmarks.stock_encoder import build_stock_encoder
from segment_anything.modeling import MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

from deal.modeling.config import ENCODER_SPECS


def build_official_sam(size: str = "tiny", seed: int = 0) -> Sam:
    """segment-anything's Sam with the hyper-parameters of `size`, random weights (non-zero rel-pos)."""
    spec = ENCODER_SPECS[size]
    torch.manual_seed(seed)
    grid = spec.pretrain_size // spec.patch_size
    sam = Sam(
        image_encoder=build_stock_encoder(size, spec.pretrain_size),
        prompt_encoder=PromptEncoder(
            embed_dim=spec.neck_dim,
            image_embedding_size=(grid, grid),
            input_image_size=(spec.pretrain_size, spec.pretrain_size),
            mask_in_chans=16,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(
                depth=2, embedding_dim=spec.neck_dim, mlp_dim=spec.decoder_mlp_dim, num_heads=spec.decoder_heads
            ),
            transformer_dim=spec.neck_dim,
            iou_head_depth=3,
            iou_head_hidden_dim=256,
        ),
    )
    with torch.no_grad():  # SAM initialises pos_embed and rel-pos tables to zero: randomise them
        for name, p in sam.named_parameters():
            if "rel_pos" in name or name.endswith("pos_embed"):
                p.normal_(0, 0.02)
    return sam.eval()


def save_official_checkpoint(sam: Sam, path: Path) -> Path:
    torch.save(sam.state_dict(), path)
    return path
