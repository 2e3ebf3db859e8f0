"""deal model-info on an official-format ViT-B file (built from segment-anything's own modules)."""

from __future__ import annotations

import json

import torch
from segment_anything import sam_model_registry

from deal.cli.main import main
from tests.conftest import REPO_ROOT


def test_vit_b_card(tmp_path, capsys):
    torch.manual_seed(0)
    sam = sam_model_registry["vit_b"]()  # official architecture, random weights
    ckpt = tmp_path / "sam_vit_b_01ec64.pth"
    torch.save(sam.state_dict(), ckpt)
    del sam
    code = main(["model-info", str(REPO_ROOT / "configs/mfpt_vit_b.yaml"), "--sam-checkpoint", str(ckpt), "--json"])
    assert code == 0
    card = json.loads(capsys.readouterr().out)
    assert card["missing_keys"] == [] and card["unexpected_keys"] == []
    assert card["parts"]["encoder"] == {"total": 89_670_912, "trainable": 0}
    # The decoder's IoU prediction head (132,612 parameters) stays frozen: MFPT has no use for its output.
    assert card["parts"]["decoder"]["total"] == 4_058_596 == card["parts"]["decoder"]["trainable"] + 132_612
    assert card["params_trainable"] == 4_058_596 - 132_612 + card["parts"]["prompts"]["total"]
    assert card["params_total"] == card["params_trainable"] + 89_670_912 + 132_612
    assert set(card["ignored_keys"]) >= {"prompt_encoder.not_a_point_embed.weight", "prompt_encoder.mask_downscaling.0.weight"}
    assert all(k.startswith("prompt_encoder.") for k in card["ignored_keys"])
    assert len(card["base_sha256"]) == 64
    # ViT-B at 1024: 0.972 TFLOP for the encoder (docs/performance.md), plus decoder and prompts.
    assert 0.97e12 < card["flops_per_image"] < 1.0e12


def test_every_config_builds(capsys):
    for name in ("mfpt_vit_l.yaml", "mfpt_vit_h.yaml", "mfpt_tiny.yaml"):
        assert main(["model-info", str(REPO_ROOT / "configs" / name), "--json"]) == 0
        card = json.loads(capsys.readouterr().out)
        assert card["encoder"] == name[5:-5]
    # tiny trains all but the IoU head: MLP(128 -> 256 -> 256 -> 4) = 99,844 parameters
    assert card["params_trainable"] == card["params_total"] - 99_844
