"""Fine-tuning from a detector file: MFPTModule(init_detector=...) starts from its exact weights."""

from __future__ import annotations

import pytest
import torch

from deal.modeling.config import ModelConfig
from deal.modeling.detector_file import save_detector
from deal.modeling.mfpt import MFPT
from deal.training.module import MFPTModule

CONFIG = ModelConfig(encoder="tiny", image_size=64, input_policy="native", train_encoder=True)


def test_init_detector_copies_every_weight_and_refuses_another_config(tmp_path) -> None:
    torch.manual_seed(1)
    source = MFPT(CONFIG)
    path = save_detector(tmp_path / "d.safetensors", source, name="d", threshold=0.3)
    torch.manual_seed(2)
    module = MFPTModule(config=CONFIG, init_detector=str(path))
    ours, theirs = module.model.state_dict(), source.state_dict()
    assert list(ours) == list(theirs)
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)
    fresh = MFPTModule(config=CONFIG).model.state_dict()  # without it: another random init
    assert any(not torch.equal(fresh[k], theirs[k]) for k in theirs)
    other = ModelConfig(encoder="tiny", image_size=128, input_policy="native", train_encoder=True)
    with pytest.raises(ValueError, match="config differs"):
        MFPTModule(config=other, init_detector=str(path))


def test_init_detector_ignores_the_attention_backend(tmp_path) -> None:
    """`attention` is a runtime choice (not stored in detector files): a run on "sdpa" may start from a
    detector trained on "auto" or "flex", and gets its exact weights."""
    torch.manual_seed(3)
    source = MFPT(CONFIG)
    path = save_detector(tmp_path / "d.safetensors", source, name="d", threshold=0.3)
    sdpa = ModelConfig(encoder="tiny", image_size=64, input_policy="native", train_encoder=True, attention="sdpa")
    module = MFPTModule(config=sdpa, init_detector=str(path))
    theirs = source.state_dict()
    assert all(torch.equal(module.model.state_dict()[k], theirs[k]) for k in theirs)


def test_a_fine_tune_may_add_smoothed_copies_of_the_cue_and_starts_from_the_same_function(tmp_path) -> None:
    """cue_smoothing adds weights that start at zero: the initialized model is the detector's function; any other
    difference is still refused."""
    from dataclasses import replace

    residual = replace(CONFIG, prompts=replace(CONFIG.prompts, band_energy=True), cue_residual=True)
    torch.manual_seed(4)
    source = MFPT(residual).eval()
    with torch.no_grad():
        source.cue_residual.gate.fill_(0.5)  # a trained-looking detector: the decoder contributes
    path = save_detector(tmp_path / "d.safetensors", source, name="d", threshold=0.3)
    grown = replace(residual, cue_smoothing=(8.0, 16.0))
    model = MFPTModule(config=grown, init_detector=str(path)).model.eval()
    assert model.cue_residual.smoothed_scale.tolist() == [0.0, 0.0]
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        torch.testing.assert_close(model(x), source(x), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="config differs"):
        MFPTModule(config=replace(grown, high_res_path=True), init_detector=str(path))
