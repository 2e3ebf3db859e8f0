"""Official-format SAM checkpoints load tensor for tensor; each bad checkpoint kind gets its error."""

from __future__ import annotations

import collections

import pytest
import torch

from deal.modeling.config import ModelConfig
from deal.modeling.mfpt import MFPT
from deal.modeling.sam_checkpoint import CheckpointError, load_sam_checkpoint
from tests.modeling.tiny_sam import build_official_sam


def _tiny() -> MFPT:
    return MFPT(ModelConfig(encoder="tiny", image_size=256))


def test_every_tensor_is_loaded(tiny_sam, tiny_sam_checkpoint):
    model = _tiny()
    report = load_sam_checkpoint(model, tiny_sam_checkpoint)
    assert report.missing_keys == [] and report.unexpected_keys == []
    assert report.ignored_keys and all(
        k.startswith(("prompt_encoder.point_embeddings", "prompt_encoder.not_a_point_embed", "prompt_encoder.mask_downscaling"))
        for k in report.ignored_keys
    )
    ours = model.state_dict()
    n_checked = 0
    for key, value in tiny_sam.state_dict().items():
        if key in report.ignored_keys:
            continue
        mapped = key
        if key.startswith("image_encoder."):  # timm names the encoder's MLP fc1/fc2 (SAM: lin1/lin2)
            mapped = key.replace("mlp.lin1", "mlp.fc1").replace("mlp.lin2", "mlp.fc2")
        assert torch.equal(ours[mapped], value), key
        n_checked += 1
    assert n_checked == report.loaded
    # Defect 2 of SAM-Adapter: no_mask_embed and the positional encoding must come from the checkpoint.
    assert torch.equal(ours["prompt_encoder.no_mask_embed.weight"], tiny_sam.prompt_encoder.no_mask_embed.weight)
    assert torch.equal(
        ours["prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"],
        tiny_sam.prompt_encoder.pe_layer.positional_encoding_gaussian_matrix,
    )
    assert len(report.sha256) == 64


def test_truncated_file(tiny_sam_checkpoint, tmp_path):
    bad = tmp_path / "truncated.pth"
    data = tiny_sam_checkpoint.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated.pth.*truncated or corrupt"):
        load_sam_checkpoint(_tiny(), bad)


def test_not_a_state_dict(tmp_path):
    bad = tmp_path / "list.pth"
    torch.save([1, 2, 3], bad)
    with pytest.raises(CheckpointError, match="list.pth: not a state dict"):
        load_sam_checkpoint(_tiny(), bad)


def test_pickled_code_is_refused(tmp_path):
    bad = tmp_path / "code.pth"
    torch.save({"x": collections.OrderedDict, "w": torch.zeros(1)}, bad)
    with pytest.raises(CheckpointError, match="code.pth"):
        load_sam_checkpoint(_tiny(), bad)


def test_other_model_size(tmp_path):
    other = build_official_sam("tiny").state_dict()
    # Pretend it is a ViT-B encoder: a 768-wide patch embedding and 12 blocks.
    other["image_encoder.patch_embed.proj.weight"] = torch.zeros(768, 3, 16, 16)
    for i in range(6, 12):
        other[f"image_encoder.blocks.{i}.norm1.weight"] = torch.zeros(768)
    with pytest.raises(CheckpointError, match="SAM vit_b checkpoint, but the model is tiny"):
        load_sam_checkpoint(_tiny(), other)


def test_missing_and_unexpected_keys_are_named(tiny_sam):
    sd = dict(tiny_sam.state_dict())
    del sd["mask_decoder.iou_token.weight"]
    sd["mask_decoder.extra_head.weight"] = torch.zeros(3)
    with pytest.raises(CheckpointError) as err:
        load_sam_checkpoint(_tiny(), sd)
    assert "mask_decoder.iou_token.weight" in str(err.value)
    assert "mask_decoder.extra_head.weight" in str(err.value)


def test_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.pth"):
        load_sam_checkpoint(_tiny(), tmp_path / "nothere.pth")
