"""The encoder equals segment-anything's ImageEncoderViT with the same weights."""

from __future__ import annotations

import torch

from deal.modeling.config import ModelConfig
from deal.modeling.mfpt import MFPT
from deal.modeling.sam_checkpoint import load_sam_checkpoint


def _model_from(sam, **prompts) -> MFPT:
    model = MFPT(ModelConfig(encoder="tiny", image_size=256, **prompts))
    load_sam_checkpoint(model, sam.state_dict())
    return model.eval()


def test_encoder_matches_segment_anything(tiny_sam):
    model = _model_from(tiny_sam)
    x = torch.randn(2, 3, 256, 256, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = tiny_sam.image_encoder(x)
        ours = model.image_encoder.forward_features(x)
        # With prompts whose up-projection is zero (untrained), the prompted path is the plain encoder.
        prompted = model.encode(x)
    assert expected.shape == (2, 128, 16, 16)
    assert (ours - expected).abs().max().item() <= 1e-4
    assert (prompted - expected).abs().max().item() <= 1e-4


def test_attention_goes_through_sdpa(tiny_sam, monkeypatch):
    model = _model_from(tiny_sam)
    calls = []
    real = torch.nn.functional.scaled_dot_product_attention

    def spy(q, k, v, attn_mask=None, **kw):
        calls.append(attn_mask is not None)
        return real(q, k, v, attn_mask=attn_mask, **kw)

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", spy)
    with torch.no_grad():
        model.image_encoder.forward_features(torch.randn(1, 3, 256, 256))
    assert len(calls) == model.config.spec.depth and all(calls)  # every block, with the rel-pos bias


def test_decoder_matches_sam_single_image(tiny_sam):
    """Our prompt-free batch decoder equals SAM's decoder called per image with no prompts."""
    model = _model_from(tiny_sam)
    x = torch.randn(2, 3, 256, 256, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ours = model(x)
        emb = tiny_sam.image_encoder(x)
        for i in range(2):
            sparse, dense = tiny_sam.prompt_encoder(points=None, boxes=None, masks=None)
            low, _ = tiny_sam.mask_decoder(
                image_embeddings=emb[i : i + 1],
                image_pe=tiny_sam.prompt_encoder.get_dense_pe(),
                sparse_prompt_embeddings=sparse,
                dense_prompt_embeddings=dense,
                multimask_output=False,
            )
            up = torch.nn.functional.interpolate(low, size=(256, 256), mode="bilinear", align_corners=False)
            assert (ours[i : i + 1] - up).abs().max().item() <= 1e-4


def test_native_resolution_any_multiple_of_16(tiny_sam):
    model = _model_from(tiny_sam)
    with torch.no_grad():
        out = model(torch.randn(1, 3, 96, 160))
    assert out.shape == (1, 1, 96, 160)
    assert torch.isfinite(out).all()
