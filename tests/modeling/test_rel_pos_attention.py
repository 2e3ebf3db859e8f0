"""The FlexAttention path of the global blocks computes what the SDPA path computes, forward and backward.

On the CPU, FlexAttention runs its reference (dense) implementation of the same op and score_mod the CUDA
kernel runs (deal.modeling.rel_pos_attention); the memory saving exists only on CUDA.
"""

from __future__ import annotations

import pytest
import torch

from deal.modeling.config import ModelConfig
from deal.modeling.mfpt import MFPT
from deal.modeling.rel_pos_attention import (
    RelPosAttention,
    flex_attention_available,
    resolve_backend,
    set_attention_backend,
)

needs_flex = pytest.mark.skipif(
    not flex_attention_available("cpu"), reason="torch.nn.attention.flex_attention (torch >= 2.5) not importable"
)


def _relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| over max(1, max |a|): absolute for values up to 1, relative for larger ones."""
    return (a - b).abs().max().item() / max(1.0, a.abs().max().item())


def _prompted_model(encoder: str) -> MFPT:
    """A frozen-encoder MFPT whose prompts and rel-pos tables are non-zero (so every gradient is)."""
    torch.manual_seed(0)
    model = MFPT(ModelConfig(encoder=encoder, image_size=256 if encoder == "tiny" else 1024)).eval()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.prompt_generator.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.05)  # the shared up-projection starts at zero
        for block in model.image_encoder.blocks:
            if block.window_size == 0:
                block.attn.rel_pos_h.normal_(0, 0.5, generator=g)
                block.attn.rel_pos_w.normal_(0, 0.5, generator=g)
    return model


def _encode_with_grads(model: MFPT, backend: str, x0: torch.Tensor):
    set_attention_backend(model.image_encoder, backend)
    params = [p for p in model.prompt_generator.parameters() if p.requires_grad]
    x = x0.clone().requires_grad_(True)
    emb = model.encode(x)
    weights = torch.randn(emb.shape, generator=torch.Generator().manual_seed(3))
    grads = torch.autograd.grad((emb * weights).sum(), [x, *params])
    used = {b.attn.last_backend for b in model.image_encoder.blocks if b.window_size == 0}
    return emb.detach(), grads[0], grads[1:], used


@needs_flex
@pytest.mark.parametrize(
    "encoder,batch,side",
    # ViT-B dims (768, 12 heads, 12 blocks), an 8x8 token grid: ~13 s
    [("tiny", 2, 128), pytest.param("vit_b", 1, 128, marks=pytest.mark.slow)],
)
def test_flex_matches_sdpa_outputs_and_gradients(encoder, batch, side):
    model = _prompted_model(encoder)
    x0 = torch.randn(batch, 3, side, side, generator=torch.Generator().manual_seed(1))
    emb_s, gx_s, gp_s, used_s = _encode_with_grads(model, "sdpa", x0)
    emb_f, gx_f, gp_f, used_f = _encode_with_grads(model, "flex", x0)
    assert used_s == {"sdpa"} and used_f == {"flex"}
    assert gx_s.abs().max() > 0 and all(g.abs().max() > 0 for g in gp_s)  # every gradient is exercised
    # measured (max abs difference): outputs 3.3e-6 tiny, 2.4e-6 ViT-B; input gradients 1.2e-6, 2.2e-6
    assert _relative_error(emb_s, emb_f) <= 1e-4
    assert _relative_error(gx_s, gx_f) <= 1e-4  # w.r.t. the input image
    # w.r.t. every prompt parameter: gradients up to 202 (tiny) and 155 (ViT-B) in size; max abs difference
    # 1.1e-4 and 9.2e-5, i.e. 4.4e-6 and 2.9e-6 of the largest value of the same tensor
    assert max(_relative_error(a, b) for a, b in zip(gp_s, gp_f)) <= 1e-4


@needs_flex
def test_flex_path_builds_no_dense_bias(monkeypatch):
    """With flex, SDPA runs in the windowed blocks only and the dense bias is never built."""
    import timm.models.vision_transformer_sam as sam_module

    model = _prompted_model("tiny")
    set_attention_backend(model.image_encoder, "flex")
    sdpa_calls, bias_calls = [], []
    real_sdpa = torch.nn.functional.scaled_dot_product_attention
    real_bias = sam_module.get_decomposed_rel_pos_bias

    def spy_sdpa(q, *args, **kw):
        sdpa_calls.append(q.shape[-2])
        return real_sdpa(q, *args, **kw)

    def spy_bias(*args, **kw):
        bias_calls.append(1)
        return real_bias(*args, **kw)

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", spy_sdpa)
    monkeypatch.setattr(sam_module, "get_decomposed_rel_pos_bias", spy_bias)
    with torch.no_grad():
        model.encode(torch.randn(1, 3, 128, 128))
    spec = model.config.spec
    assert len(sdpa_calls) == spec.depth - len(spec.global_attn_indexes)
    assert set(sdpa_calls) == {spec.window_size**2}  # windowed attention only
    # windowed blocks build their (small, window-sized) bias; global blocks none
    assert len(bias_calls) == spec.depth - len(spec.global_attn_indexes)


def test_global_blocks_only_and_checkpoint_keys_unchanged():
    from timm.models.vision_transformer_sam import Attention

    from deal.modeling.image_encoder import build_image_encoder

    spec = ModelConfig(encoder="tiny").spec
    encoder = build_image_encoder(spec, "flex")
    kinds = [type(b.attn) for b in encoder.blocks]
    assert [i for i, k in enumerate(kinds) if k is RelPosAttention] == list(spec.global_attn_indexes)
    assert all(k is Attention for i, k in enumerate(kinds) if i not in spec.global_attn_indexes)
    plain = build_image_encoder(spec, "sdpa")
    assert list(encoder.state_dict()) == list(plain.state_dict())  # official checkpoints load the same


def test_auto_picks_sdpa_without_cuda_or_gradient():
    x = torch.zeros(1, 4, 4, 8)
    assert resolve_backend("auto", x) == "sdpa"  # CPU
    assert resolve_backend("auto", x.requires_grad_(True)) == "sdpa"  # CPU, training
    assert resolve_backend("flex", x) == "flex" and resolve_backend("sdpa", x) == "sdpa"
    with pytest.raises(ValueError, match="unknown attention"):
        ModelConfig(encoder="tiny", attention="flash")
    with pytest.raises(ValueError, match="unknown attention backend"):
        resolve_backend("flash", x)
