"""Perturbations change the image as intended; their specs parse and fail with the valid choices."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deal.evaluation import perturb
from deal.evaluation.perturb import Perturbation, parse_perturbation
from deal.modeling.input_policy import resize_map


@pytest.fixture(scope="module")
def image():
    # smooth gradients + a sharp square: JPEG and blur both leave measurable traces
    y, x = np.mgrid[0:64, 0:96]
    img = np.stack([x * 2, y * 3, (x + y) % 256], axis=2).astype(np.uint8)
    img[20:40, 30:60] = [250, 10, 10]
    return img


def _mad(a, b) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_jpeg_degrades_with_quality(image):
    q90, q50 = perturb.jpeg(image, 90), perturb.jpeg(image, 50)
    assert q50.shape == image.shape and q50.dtype == np.uint8
    assert 0 < _mad(q90, image) < _mad(q50, image)
    assert _mad(q50, image) > 1.0


def test_resize_changes_size_and_the_map_comes_back(image):
    half = perturb.resize(image, 0.5)
    assert half.shape == (32, 48, 3)
    assert perturb.resize(image, 0.75).shape == (48, 72, 3)
    assert perturb.resize(image, 1.5).shape == (96, 144, 3)
    probs = np.zeros((32, 48), np.float32)
    probs[:, 24:] = 1.0
    back = resize_map(torch.from_numpy(probs), (64, 96))
    assert back.shape == (64, 96) and back.dtype == torch.float32
    assert back[:, :46].max() == 0.0 and back[:, 50:].min() == 1.0  # bilinear: only the seam is in between
    assert torch.equal(resize_map(torch.from_numpy(probs), (32, 48)), torch.from_numpy(probs))


def test_one_map_resize_for_the_model_the_benchmark_evaluate_and_validation():
    """A map comes back to an image's or a mask's size one way: the input policy's resize_map (bilinear,
    half-pixel centres), which restore() uses for the model's logits; OpenCV's resize is not used for maps."""
    from deal.evaluation import benchmark_run, evaluate
    from deal.metrics import functional
    from deal.modeling import input_policy
    from deal.modeling.input_policy import Placement, restore
    from deal.training import module

    assert benchmark_run.resize_map is evaluate.resize_map is module.resize_map is input_policy.resize_map
    assert not hasattr(functional, "restore_map")
    logits = torch.randn(1, 1, 16, 24)
    (restored,) = restore(logits, [Placement(original_hw=(40, 60), placed_hw=(16, 24))])
    torch.testing.assert_close(restored, resize_map(logits[0, 0], (40, 60)), rtol=0, atol=0)


def test_blur_smooths_and_noise_is_seeded(image):
    blurred = perturb.blur(image, 2.0)
    assert blurred.shape == image.shape
    grad = np.abs(np.diff(image[:, :, 0].astype(float), axis=1)).max()
    assert (
        np.abs(np.diff(blurred[:, :, 0].astype(float), axis=1)).max() < grad / 2
    )  # the square's edge softened
    flat = np.full((200, 200, 3), 128, np.uint8)
    noisy = perturb.noise(flat, 5.0, seed=1)
    assert abs(float(noisy.astype(float).std()) - 5.0) < 0.2 and abs(float(noisy.mean()) - 128) < 0.1
    np.testing.assert_array_equal(noisy, perturb.noise(flat, 5.0, seed=1))
    assert not np.array_equal(noisy, perturb.noise(flat, 5.0, seed=2))


def test_perturbation_objects(image):
    assert [p.label for p in parse_perturbation("jpeg=90,70,50")] == ["jpeg=90", "jpeg=70", "jpeg=50"]
    assert [p.strength for p in parse_perturbation("resize=0.5,0.75")] == [0.5, 0.75]
    assert Perturbation("none").apply(image) is image
    np.testing.assert_array_equal(
        Perturbation("noise", 3).apply(image, seed=7), perturb.noise(image, 3, seed=7)
    )
    np.testing.assert_array_equal(Perturbation("jpeg", 50).apply(image), perturb.jpeg(image, 50))


@pytest.mark.parametrize(
    "spec,message",
    [
        ("sharpen=1", "unknown perturbation 'sharpen'; choose one of jpeg, resize, blur, noise"),
        ("jpeg=101", "jpeg strength must be an integer quality in 1-100"),
        ("jpeg=75.5", "integer quality"),
        ("resize=0", "resize strength must be a factor > 0"),
        ("blur=a", "strengths must be numbers"),
        ("noise", "expects KIND=S1,S2"),
    ],
)
def test_bad_specs(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_perturbation(spec)
