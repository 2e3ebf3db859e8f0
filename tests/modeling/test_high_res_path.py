"""The high-resolution path and the cue residual (not in the published MFPT; off in the paper configs)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deal.baselines.spectral import spectral_slope_map
from deal.modeling.band_energy import NUM_FEATURES
from deal.modeling.config import ModelConfig
from deal.modeling.high_res import HighResPath
from deal.modeling.input_pipeline import InputPipeline
from deal.modeling.mfpt import MFPT


def _config(**changes) -> ModelConfig:
    base = dict(
        encoder="tiny", input_policy="native", image_size=256, train_encoder=True, attention="sdpa",
        prompts=dict(scale_factor=4, band_energy=True), high_res_path=True, cue_residual=True,
    )  # fmt: skip
    return ModelConfig.from_dict({**base, **changes})


def _model(**changes) -> MFPT:
    torch.manual_seed(0)
    return MFPT(_config(**changes)).eval()


def test_high_res_path_brings_full_resolution_features_to_the_decoders_upscaled_grid():
    path = HighResPath(out_dim=16, width=8)
    out = path(torch.randn(2, NUM_FEATURES, 64, 96))
    assert out.shape == (2, 16, 16, 24)
    # zero-initialised output: an untrained path adds exactly nothing to the mask features
    assert float(out.abs().max()) == 0.0


@pytest.mark.parametrize("cue_residual", [False, True])
def test_forward_shapes_and_float32_logits_under_bf16_autocast(cue_residual):
    model = _model(cue_residual=cue_residual)
    x = torch.randn(2, 3, 64, 96, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert model(x).shape == (2, 1, 64, 96)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = model(x)
    assert y.shape == (2, 1, 64, 96) and y.dtype == torch.float32 and torch.isfinite(y).all()


def test_a_gradient_reaches_the_high_res_path_and_changes_the_output():
    model = _model(cue_residual=False).train()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    target = (torch.rand(2, 1, 64, 64, generator=torch.Generator().manual_seed(3)) > 0.5).float()
    loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), target)
    loss.backward()
    # the zero-initialised last layer gets a gradient first; the convolutions before it follow after one step
    assert float(model.high_res_path.out.weight.grad.abs().sum()) > 1e-6
    with torch.no_grad():
        before = model(x).clone()
        model.high_res_path.out.weight.add_(0.1)
        after = model(x)
    assert float((after - before).abs().mean()) > 1e-4


def test_gate_opens_from_zero_so_the_decoder_learns_from_the_first_step():
    model = _model().train()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(4))
    model(x).mean().backward()
    assert float(model.cue_residual.gate.grad.abs()) > 1e-6


def test_an_untrained_cue_residual_model_reproduces_the_spectral_slope_baselines_map(shared_data):
    """logit = 2 * cue + 0 + 0 * decoder at initialisation: the map equals the training-free baseline's up to
    the luminance (taken from the normalized channels here, from OpenCV's grey there)."""
    from PIL import Image

    path = sorted((shared_data / "fixtures" / "CocoGlide" / "fake").iterdir())[0]
    image = np.asarray(Image.open(path).convert("RGB"))
    model = _model()
    batch, _ = InputPipeline(model.config).whole_batch(torch.as_tensor(image)[None], torch.device("cpu"))
    with torch.no_grad():
        ours = torch.sigmoid(model(batch))[0, 0, : image.shape[0], : image.shape[1]].numpy()
    baseline = spectral_slope_map(image)
    assert np.corrcoef(ours.ravel(), baseline.ravel())[0, 1] > 0.99
    assert float(np.abs(ours - baseline).mean()) < 0.02


def test_paper_faithful_configs_keep_both_additions_off():
    config = ModelConfig()
    assert not config.high_res_path and not config.cue_residual and not config.uses_band_features
    model = MFPT(ModelConfig(encoder="tiny", input_policy="native", image_size=256, train_encoder=True))
    assert model.high_res_path is None and model.cue_residual is None


def test_cue_init_sets_the_starting_mix_of_the_cue_and_its_smoothed_copies():
    """An untrained model with cue_init (0, 1) and cue_smoothing (16,) outputs the cue averaged by a Gaussian of
    sigma 16 (gate 0: the decoder adds nothing yet); a wrong number of weights is refused."""
    from deal.modeling.band_energy import band_energy_features, gaussian_blur
    from deal.modeling.cue_residual import cue_logit

    model = _model(high_res_path=False, cue_smoothing=[16.0], cue_init=[0.0, 1.0])
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        expected = gaussian_blur(cue_logit(band_energy_features(x)), 16.0)
        torch.testing.assert_close(model(x), expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="cue_init needs 2 weights"):
        _config(cue_smoothing=[16.0], cue_init=[1.0])
