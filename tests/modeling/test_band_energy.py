from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from deal.modeling.band_energy import (
    BAND_SIGMAS,
    NUM_FEATURES,
    BandEnergyStem,
    band_energy_features,
    finest_band_log_ratio,
    gaussian_blur,
)
from deal.modeling.config import ModelConfig
from deal.modeling.mfpt import MFPT


def _photo_like(size: int = 128, seed: int = 0) -> np.ndarray:
    """A texture with detail at every scale (1/f noise plus fine sensor-like noise), uint8 RGB."""
    rng = np.random.default_rng(seed)
    spectrum = np.fft.fft2(rng.normal(size=(size, size)))
    fy, fx = np.meshgrid(np.fft.fftfreq(size), np.fft.fftfreq(size), indexing="ij")
    f = np.sqrt(fx**2 + fy**2)
    f[0, 0] = 1.0
    field = np.real(np.fft.ifft2(spectrum / f))
    field = (field - field.mean()) / field.std() * 40 + 128 + rng.normal(0, 3, (size, size))
    return np.repeat(np.clip(field, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def _tensor(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255.0


def test_features_shape_dtype_and_relative_channels_have_zero_median():
    x = torch.randn(2, 3, 48, 64, generator=torch.Generator().manual_seed(0))
    f = band_energy_features(x)
    assert f.shape == (2, NUM_FEATURES, 48, 64) and f.dtype == torch.float32
    relative = f[:, NUM_FEATURES // 2 :].flatten(2)
    assert relative.median(dim=2).values.abs().max().item() < 1e-6


def test_features_stay_float32_under_bf16_autocast():
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    ref = band_energy_features(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = band_energy_features(x.bfloat16())
    assert got.dtype == torch.float32
    # bf16 input rounding (8 bits of mantissa) moves the log energies a little, not the layout.
    assert torch.corrcoef(torch.stack([got.flatten(), ref.flatten()]))[0, 1].item() > 0.99


def test_ratio_is_contrast_invariant():
    x = _tensor(_photo_like())
    r1 = finest_band_log_ratio(x)
    r2 = finest_band_log_ratio(0.25 * x + 0.3)  # lower contrast, other level
    assert (r1 - r2).abs().max().item() < 0.02  # only the energy floor EPS breaks the invariance


def test_two_x_down_up_copy_loses_the_finest_band():
    rgb = _photo_like(128)
    soft = cv2.resize(cv2.resize(rgb, (64, 64), interpolation=cv2.INTER_AREA), (128, 128), interpolation=cv2.INTER_CUBIC)
    r_photo = finest_band_log_ratio(_tensor(rgb)).median().item()
    r_soft = finest_band_log_ratio(_tensor(soft)).median().item()
    # Down-up by 2 removes most of the finest band (sigma 0.7) and keeps most of the next one: the log
    # ratio falls by well over one unit (a factor e in relative energy).
    assert r_photo - r_soft > 1.0, (r_photo, r_soft)
    # The raw median-relative channel sees a pasted soft region: inside it sits below the image's median.
    pasted = rgb.copy()
    pasted[32:96, 32:96] = soft[32:96, 32:96]
    rel = band_energy_features(_tensor(pasted))[0, NUM_FEATURES // 2 + len(BAND_SIGMAS)]
    inside, outside = rel[40:88, 40:88].mean().item(), rel[:, :16].mean().item()
    assert inside < -1.0 and abs(outside) < 0.5, (inside, outside)  # measured: -1.57 inside, 0.09 outside


def test_gaussian_blur_matches_opencv():
    img = _photo_like(64)[..., 0].astype(np.float32)
    ours = gaussian_blur(torch.from_numpy(img)[None, None], 1.4)[0, 0].numpy()
    ref = cv2.GaussianBlur(img, (0, 0), 1.4, borderType=cv2.BORDER_REFLECT_101)
    assert np.abs(ours - ref).max() < 0.05


def test_stem_lands_on_the_token_grid_and_trains():
    stem = BandEnergyStem(prompt_dim=8, patch_size=16, width=4)
    x = torch.randn(2, 3, 64, 96)
    out = stem(x)
    assert out.shape == (2, 4, 6, 8)
    out.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in stem.parameters())
    with pytest.raises(ValueError, match="multiple of 4"):
        BandEnergyStem(prompt_dim=8, patch_size=6)


def test_model_option_adds_the_stem_and_only_it():
    base = ModelConfig.from_dict({"encoder": "tiny", "input_policy": "native", "image_size": 64})
    with_stem = ModelConfig.from_dict(
        {"encoder": "tiny", "input_policy": "native", "image_size": 64, "prompts": {"band_energy": True, "band_energy_width": 4}}
    )
    a, b = MFPT(base), MFPT(with_stem)
    extra = set(b.state_dict()) - set(a.state_dict())
    assert extra and all(k.startswith("prompt_generator.input_prompter.band_energy.") for k in extra)
    assert set(a.state_dict()) <= set(b.state_dict())
    assert ModelConfig.from_dict(with_stem.to_dict()) == with_stem
    with torch.no_grad():
        logits = b(torch.randn(1, 3, 64, 64))
    assert logits.shape == (1, 1, 64, 64) and torch.isfinite(logits).all()
