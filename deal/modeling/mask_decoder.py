"""segment-anything's MaskDecoder used without prompts (one mask per image, any batch size)."""

from __future__ import annotations

import torch
from segment_anything.modeling import MaskDecoder, TwoWayTransformer
from segment_anything.modeling.prompt_encoder import PositionEmbeddingRandom
from torch import nn


class PromptFreeMaskDecoder(MaskDecoder):
    """SAM's MaskDecoder whose predict_masks takes a batch of images with no prompts.

    segment-anything's predict_masks repeats the image embedding once per prompt
    (`repeat_interleave`), built for one image and many prompts: with a batch of B images and B empty
    prompt sets it would make B*B copies. Here each image gets its own output tokens.
    """

    def predict_masks(
        self,
        image_embeddings: torch.Tensor,
        image_pe: torch.Tensor,
        sparse_prompt_embeddings: torch.Tensor,
        dense_prompt_embeddings: torch.Tensor,
        high_res_features: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """image_embeddings Bx256xhxw, image_pe 1x256xhxw, sparse Bx0x256, dense Bx256xhxw ->
        (mask logits Bx4x4hx4w, iou predictions Bx4). ``high_res_features`` (BxC'x4hx4w, C' = 256 / 8):
        added to the upscaled mask features before the hypernetwork's dot product
        (deal.modeling.high_res)."""
        b = image_embeddings.shape[0]
        output_tokens = torch.cat([self.iou_token.weight, self.mask_tokens.weight], dim=0)
        tokens = torch.cat((output_tokens.unsqueeze(0).expand(b, -1, -1), sparse_prompt_embeddings), dim=1)
        src = image_embeddings + dense_prompt_embeddings
        pos_src = image_pe.expand(b, -1, -1, -1)
        _, c, h, w = src.shape
        hs, src = self.transformer(src, pos_src, tokens)
        iou_token_out = hs[:, 0, :]
        mask_tokens_out = hs[:, 1 : (1 + self.num_mask_tokens), :]
        src = src.transpose(1, 2).reshape(b, c, h, w)
        upscaled = self.output_upscaling(src)
        if high_res_features is not None:
            upscaled = upscaled + high_res_features.to(upscaled.dtype)
        hyper_in = torch.stack(
            [mlp(mask_tokens_out[:, i, :]) for i, mlp in enumerate(self.output_hypernetworks_mlps)], dim=1
        )
        _, c, h, w = upscaled.shape
        masks = (hyper_in @ upscaled.view(b, c, h * w)).view(b, -1, h, w)
        return masks, self.iou_prediction_head(iou_token_out)


class NoPromptEncoder(nn.Module):
    """The two parts of SAM's PromptEncoder a prompt-free decoder uses, under the checkpoint's names:
    `pe_layer` (random-Fourier positional encoding of the token grid) and `no_mask_embed` (the learned
    dense prompt SAM uses when no mask is given). Point embeddings and mask downscaling are not used.
    """

    def __init__(self, embed_dim: int = 256) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.pe_layer = PositionEmbeddingRandom(embed_dim // 2)
        self.no_mask_embed = nn.Embedding(1, embed_dim)

    def forward(self, batch: int, grid: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> (sparse Bx0xC, dense BxCxhxw, image_pe 1xCxhxw)."""
        weight = self.no_mask_embed.weight
        sparse = weight.new_empty(batch, 0, self.embed_dim)
        dense = weight.reshape(1, -1, 1, 1).expand(batch, -1, grid[0], grid[1])
        image_pe = self.pe_layer(grid).unsqueeze(0).to(weight.dtype)
        return sparse, dense, image_pe


def build_mask_decoder(dim: int, mlp_dim: int, heads: int) -> PromptFreeMaskDecoder:
    """SAM's decoder hyper-parameters (segment_anything/build_sam.py) at transformer width `dim`."""
    return PromptFreeMaskDecoder(
        num_multimask_outputs=3,
        transformer=TwoWayTransformer(depth=2, embedding_dim=dim, mlp_dim=mlp_dim, num_heads=heads),
        transformer_dim=dim,
        iou_head_depth=3,
        iou_head_hidden_dim=256,
    )
