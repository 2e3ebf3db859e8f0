"""Freezing, prompt switches, and the decoder path of MFPT."""

from __future__ import annotations

import pytest
import torch

from deal.modeling.config import ModelConfig, PromptConfig
from deal.modeling.mfpt import MFPT
from deal.modeling.sam_checkpoint import load_sam_checkpoint


def _randomize_prompt_up(model: MFPT, seed: int = 0) -> None:
    """The shared up-projection is zero-initialised (an untrained prompt is a no-op); make it act."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        model.prompt_generator.up.weight.copy_(torch.randn(model.prompt_generator.up.weight.shape, generator=g) * 0.5)


def _pair(tiny_sam, **prompt_kwargs) -> MFPT:
    torch.manual_seed(0)
    model = MFPT(ModelConfig(encoder="tiny", image_size=256, prompts=PromptConfig(**prompt_kwargs)))
    load_sam_checkpoint(model, tiny_sam.state_dict())
    return model


def test_frozen_encoder_gets_no_gradient_and_is_not_optimized(tiny_sam):
    model = _pair(tiny_sam)
    _randomize_prompt_up(model)
    model.train()
    assert not model.image_encoder.training  # frozen layers stay in eval mode after .train()
    assert all(not p.requires_grad for p in model.image_encoder.parameters())
    optimizer = torch.optim.AdamW(model.trainable_parameters(), lr=1e-3)
    optimized = {id(p) for group in optimizer.param_groups for p in group["params"]}
    encoder_ids = {id(p) for p in model.image_encoder.parameters()}
    assert not (optimized & encoder_ids)
    iou_head = {id(p) for p in model.mask_decoder.iou_prediction_head.parameters()}
    assert optimized == ({id(p) for p in model.prompt_generator.parameters()} | {
        id(p) for p in model.mask_decoder.parameters()
    } | {id(p) for p in model.prompt_encoder.parameters()}) - iou_head
    before = {k: v.clone() for k, v in model.image_encoder.state_dict().items()}
    loss = model(torch.randn(2, 3, 64, 64)).sigmoid().mean()
    loss.backward()
    assert all(p.grad is None for p in model.image_encoder.parameters())
    grads = [p.grad for p in model.prompt_generator.parameters()]
    assert all(g is not None for g in grads) and sum(g.abs().sum().item() for g in grads) > 0
    # Every optimized parameter is in the loss's graph (DDP needs no find_unused_parameters).
    assert all(p.grad is not None for p in model.trainable_parameters())
    optimizer.step()
    after = model.image_encoder.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_train_encoder_switch():
    model = MFPT(ModelConfig(encoder="tiny", image_size=256, train_encoder=True))
    model.train()
    assert model.image_encoder.training
    assert all(p.requires_grad for p in model.image_encoder.parameters())


@pytest.mark.parametrize(
    "switch, absent",
    [
        ({"input_prompter": False}, "prompt_generator.input_prompter."),
        ({"feature_prompter": False}, "prompt_generator.feature_prompter."),
        ({"bands": ("fft_highpass",)}, "prompt_generator.input_prompter.band_embed.dct_low."),
        ({"embedding_branch": False}, "prompt_generator.input_prompter.embedding."),
    ],
)
def test_each_prompter_changes_output_when_on_and_is_absent_when_off(tiny_sam, switch, absent):
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    full = _pair(tiny_sam)
    reduced = _pair(tiny_sam, **switch)
    assert any(k.startswith(absent) for k in full.state_dict())
    assert not any(k.startswith(absent) for k in reduced.state_dict())
    # Copy the shared weights so the only difference between the two is the switched-off part.
    reduced.load_state_dict({k: v for k, v in full.state_dict().items() if k in reduced.state_dict()})
    _randomize_prompt_up(full)
    _randomize_prompt_up(reduced)
    with torch.no_grad():
        diff = (full(x) - reduced(x)).abs().max().item()
    assert diff > 1e-4


def test_no_prompts_at_all_is_plain_sam(tiny_sam):
    model = _pair(tiny_sam, input_prompter=False, feature_prompter=False)
    assert model.prompt_generator is None
    assert not any(k.startswith("prompt_generator") for k in model.state_dict())


def test_prompt_switches_really_prompt(tiny_sam):
    """With a trained (non-zero) up-projection, the prompted encoder differs from plain SAM."""
    model = _pair(tiny_sam)
    _randomize_prompt_up(model)
    x = torch.randn(1, 3, 256, 256)
    with torch.no_grad():
        assert (model.encode(x) - tiny_sam.image_encoder(x)).abs().max().item() > 1e-3


def test_flatten_keeps_tokens_and_channels_apart():
    """SAM-Adapter's reshape(N, C, H*W) bug: the embedding branch must see each token's own vector."""
    model = MFPT(ModelConfig(encoder="tiny", image_size=256, prompts=PromptConfig(bands=())))
    tokens = torch.zeros(1, 4, 4, 192)
    tokens[0, 1, 2] = torch.arange(192.0)
    out = model.prompt_generator.input_prompter(torch.zeros(1, 3, 64, 64), tokens)
    lin = model.prompt_generator.input_prompter.embedding
    assert torch.allclose(out[0, 1, 2], lin(tokens[0, 1, 2]), atol=1e-5)
    assert torch.allclose(out[0, 0, 0], lin.bias, atol=1e-6)


def test_input_must_be_multiple_of_patch():
    model = MFPT(ModelConfig(encoder="tiny", image_size=256))
    with pytest.raises(ValueError, match="multiples of 16"):
        model(torch.zeros(1, 3, 65, 64))


def test_config_rejects_unknown_values():
    with pytest.raises(ValueError, match="unknown encoder"):
        ModelConfig(encoder="vit_x")
    with pytest.raises(ValueError, match="unknown input band"):
        PromptConfig(bands=("wavelet",))
    with pytest.raises(ValueError, match="unknown model config key"):
        ModelConfig.from_dict({"encoder": "tiny", "imagesize": 3})
    cfg = ModelConfig(encoder="tiny", image_size=256, input_policy="native")
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
