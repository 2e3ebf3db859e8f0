"""MFPT: a SAM ViT encoder carrying frequency prompts, and a prompt-free SAM mask decoder."""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from deal.modeling.band_energy import band_energy_features
from deal.modeling.config import ModelConfig
from deal.modeling.cue_residual import CueResidual
from deal.modeling.high_res import HighResPath
from deal.modeling.image_encoder import add_position_embedding, build_image_encoder
from deal.modeling.mask_decoder import NoPromptEncoder, build_mask_decoder
from deal.modeling.prompts import FeatureFrequencyPrompter, FrequencyInputPrompter, PromptGenerator


class MFPT(nn.Module):
    """Multi-Frequency Prompt Tuning on SAM.

    forward(images Bx3xHxW, normalized with SAM's pixel mean/std, H and W multiples of the patch size)
    returns edit logits Bx1xHxW. The model holds no inference state: sigmoid, thresholds and input
    policies live in deal.modeling.input_policy and deal.inference.

    Module names follow the official checkpoint (`image_encoder`, `prompt_encoder`, `mask_decoder`), so
    SAM's keys load without renaming beyond timm's `mlp.lin* -> mlp.fc*`.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        spec = config.spec
        pc = config.prompts
        self.image_encoder = build_image_encoder(spec, config.attention)
        r = config.prompt_dim
        input_prompter = (
            FrequencyInputPrompter(
                embed_dim=spec.embed_dim,
                prompt_dim=r,
                patch_size=spec.patch_size,
                bands=pc.bands,
                highpass_rate=pc.highpass_rate,
                bandpass=pc.bandpass,
                embedding_branch=pc.embedding_branch,
                band_energy=pc.band_energy,
                band_energy_width=pc.band_energy_width,
            )
            if pc.input_prompter
            else None
        )
        feature_prompter = (
            FeatureFrequencyPrompter(embed_dim=spec.embed_dim, prompt_dim=r, depth=spec.depth)
            if pc.feature_prompter
            else None
        )
        self.prompt_generator = (
            PromptGenerator(
                embed_dim=spec.embed_dim,
                depth=spec.depth,
                prompt_dim=r,
                input_prompter=input_prompter,
                feature_prompter=feature_prompter,
            )
            if input_prompter is not None or feature_prompter is not None
            else None
        )
        self.prompt_encoder = NoPromptEncoder(spec.neck_dim)
        self.mask_decoder = build_mask_decoder(spec.neck_dim, spec.decoder_mlp_dim, spec.decoder_heads)
        # The decoder's IoU prediction is discarded (one mask, no prompts), so its head would never get a
        # gradient (DDP refuses such parameters): it stays frozen, out of the optimizer, at SAM's weights.
        self.mask_decoder.iou_prediction_head.requires_grad_(False)
        # Not in the published MFPT (off in the paper-faithful configs): a per-pixel path into the decoder's
        # mask features, and the output as a gated residual on the training-free cue.
        self.high_res_path = (
            HighResPath(out_dim=spec.neck_dim // 8, width=config.high_res_width) if config.high_res_path else None
        )
        self.cue_residual = CueResidual(config.cue_smoothing, config.cue_init) if config.cue_residual else None
        self.freeze_encoder(not config.train_encoder)

    # --- freezing -------------------------------------------------------------------------------
    def freeze_encoder(self, frozen: bool = True) -> None:
        """Frozen: the encoder (patch embed, position embedding, blocks, neck) gets no gradient and its
        layers stay in eval mode after .train() (no dropout/drop-path; norm layers fixed)."""
        self.encoder_frozen = frozen
        self.image_encoder.requires_grad_(not frozen)
        if frozen:
            self.image_encoder.eval()

    def train(self, mode: bool = True) -> MFPT:
        super().train(mode)
        if self.encoder_frozen:
            self.image_encoder.eval()
        return self

    def trainable_parameters(self) -> Iterator[nn.Parameter]:
        """What an optimizer should see: never the frozen encoder, never the unused IoU head. Every one of
        them gets a gradient from the mask loss (tests/modeling/test_mfpt.py)."""
        return (p for p in self.parameters() if p.requires_grad)

    # --- forward ----------------------------------------------------------------------------------
    def encode(self, images: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        """Bx3xHxW -> image embeddings BxCx(H/16)x(W/16), with the prompts added to every block input;
        ``features``: the images' band-energy features where the caller has them."""
        enc = self.image_encoder
        patch_tokens = enc.patch_embed(images)  # Bxhxwx D
        x = add_position_embedding(enc, patch_tokens)
        gen = self.prompt_generator
        input_prompt = gen.input_prompt(images, patch_tokens, features) if gen is not None else None
        for i, block in enumerate(enc.blocks):
            if gen is not None:
                x = x + gen.block_prompt(i, x, input_prompt)
            x = block(x)
        return enc.neck(x.permute(0, 3, 1, 2))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        h, w = images.shape[-2:]
        patch = self.config.spec.patch_size
        if h % patch or w % patch:
            raise ValueError(f"input height and width must be multiples of {patch}, got {h}x{w}")
        features = band_energy_features(images) if self.config.uses_band_features else None
        embeddings = self.encode(images, features)
        sparse, dense, image_pe = self.prompt_encoder(images.shape[0], tuple(embeddings.shape[-2:]))
        high_res = self.high_res_path(features, embeddings.dtype) if self.high_res_path is not None else None
        # multimask_output=False: SAM's first mask (segment_anything's MaskDecoder.forward slices the same way)
        low_res = self.mask_decoder.predict_masks(embeddings, image_pe, sparse, dense, high_res)[0][:, 0:1]
        logits = F.interpolate(low_res.float(), size=(h, w), mode="bilinear", align_corners=False)
        if self.cue_residual is not None:
            logits = self.cue_residual(logits, features)
        return logits
