"""The input pipeline: plans (whole, tiled, resized, sam), batches by padded shape, merges back to full
resolution, derives the training crop; policies register one class per file."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deal.modeling.config import ModelConfig
from deal.modeling.input_pipeline import InputPipeline
from deal.modeling.input_policy import PIXEL_MEAN, PIXEL_STD
from deal.modeling.policies import INPUT_POLICIES, get_policy
from deal.modeling.policies.base import POLICIES, InputPolicy


def _pipeline(policy: str = "native", size: int = 64, tile: bool = True) -> InputPipeline:
    return InputPipeline(ModelConfig(encoder="tiny", image_size=size, input_policy=policy), tile=tile)


def _image(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def red_logits(x: torch.Tensor) -> torch.Tensor:
    """A stand-in model: each pixel's logit is its normalized red value (so the answer is known)."""
    return x[:, :1]


def expected_red(image: np.ndarray) -> np.ndarray:
    return torch.sigmoid(torch.from_numpy((image[..., 0].astype(np.float32) - PIXEL_MEAN[0]) / PIXEL_STD[0])).numpy()


def test_plan_modes_pieces_and_batches():
    pipe = _pipeline()
    images = [_image(40, 50), _image(130, 70, 1), _image(48, 64, 2), _image(40, 50, 3)]
    plan = pipe.plan(images, batch_size=4)
    assert plan.modes == ["native", "tiled", "native", "native"]
    tiles = [p for p in plan.pieces if p.image == 1]
    assert len(tiles) == 3 * 2 and all(p.pixels.shape[:2] == (64, 64) for p in tiles)  # overlap 16 px
    assert pipe.overlap == 16
    shapes = {tuple(pipe.policy.padded_hw(plan.pieces[j].placed_hw)) for b in plan.batches for j in b[:1]}
    for batch in plan.batches:  # one padded shape per batch, at most batch_size pieces
        assert len({pipe.policy.padded_hw(plan.pieces[j].placed_hw) for j in batch}) == 1 and len(batch) <= 4
    assert shapes == {(48, 64), (64, 64)}
    resized = _pipeline(tile=False).plan([_image(130, 70)])
    assert resized.modes == ["resized"] and resized.pieces[0].placed_hw == (64, 34)
    assert _pipeline("sam").plan([_image(130, 70)]).modes == ["sam"]


def test_merge_restores_full_resolution_and_blends_tiles():
    pipe = _pipeline()
    images = [_image(40, 50), _image(150, 100, 1)]
    maps = pipe.heatmaps(images, red_logits, batch_size=3)
    for image, heatmap in zip(images, maps):
        assert heatmap.shape == image.shape[:2] and heatmap.dtype == np.float32
        np.testing.assert_allclose(heatmap, expected_red(image), rtol=0, atol=2e-6)  # blends agree exactly
    (resized,) = _pipeline(tile=False).heatmaps([images[1]], red_logits)
    assert resized.shape == (150, 100)
    assert abs(float(resized.mean()) - float(expected_red(images[1]).mean())) < 0.02  # down and back up


def test_the_loss_sees_each_piece_with_its_mask():
    pipe = _pipeline()
    image, mask = _image(100, 64), np.zeros((100, 64), np.uint8)
    mask[80:, :] = 1
    seen = []

    def on_batch(pieces, placements, logits):
        seen.append(pipe.targets([mask], pieces, placements, tuple(logits.shape[-2:])))

    pipe.heatmaps([image], red_logits, batch_size=8, on_batch=on_batch)
    (targets,) = seen
    windows = [p.window for p in pipe.plan([image]).pieces]
    for target, w in zip(targets, windows):
        np.testing.assert_array_equal(target[0].numpy(), mask[w.y : w.y + w.h, w.x : w.x + w.w])


def test_training_crop_from_image_size_and_policy():
    assert _pipeline(size=256).training_crop() == 256
    assert _pipeline(size=256).training_crop(data_side=100) == 96  # fits every training image, patch multiple
    assert _pipeline(size=256).training_crop(data_side=10) == 32
    assert _pipeline("sam", size=256).training_crop(data_side=100) is None  # whole images, resized by the model


def test_a_new_policy_is_one_class():
    class Squash(InputPolicy):
        name = "squash-test"

        def mode_of(self, h, w, tile):
            return "resized"

        def placed_hw(self, h, w, mode):
            return (self.image_size, self.image_size)

        def padded_hw(self, placed):
            return placed

    try:
        assert get_policy("squash-test", 32).placed_hw(10, 70, "resized") == (32, 32)
    finally:
        del POLICIES["squash-test"]
    assert set(INPUT_POLICIES) == {"native", "sam"}
    with pytest.raises(ValueError, match="choose from"):
        get_policy("nope", 64)
