"""Input policies: what the model sees, and how its logits map back to the exact original size."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deal.modeling.input_policy import PIXEL_MEAN, PIXEL_STD, prepare_batch, restore


def _images():
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (37, 53, 3), dtype=np.uint8), rng.integers(0, 256, (64, 20, 3), dtype=np.uint8)]


def test_native_policy_keeps_every_pixel_and_restores_exactly():
    images = _images()
    batch, placements = prepare_batch(images, policy="native", image_size=256)
    assert batch.shape == (2, 3, 64, 64)  # padded to the batch's largest side, a multiple of 16
    first = torch.from_numpy(images[0]).permute(2, 0, 1).float()
    expected = (first - torch.tensor(PIXEL_MEAN).view(3, 1, 1)) / torch.tensor(PIXEL_STD).view(3, 1, 1)
    assert torch.allclose(batch[0, :, :37, :53], expected, atol=1e-5)
    assert batch[0, :, 37:, :].abs().max() == 0 and batch[0, :, :, 53:].abs().max() == 0
    # An identity "model" (logit = red channel) maps back pixel for pixel.
    maps = restore(batch[:, :1], placements)
    assert [tuple(m.shape) for m in maps] == [(37, 53), (64, 20)]
    assert torch.equal(maps[0], batch[0, 0, :37, :53])


def test_sam_policy_resizes_longest_side_and_restores_original_size():
    images = _images()
    batch, placements = prepare_batch(images, policy="sam", image_size=128)
    assert batch.shape == (2, 3, 128, 128)
    assert placements[0].placed_hw == (89, 128)  # the longest side to 128: 37 * 128 / 53 = 89.4
    assert placements[1].placed_hw == (128, 40)
    assert batch[0, :, 89:, :].abs().max() == 0  # padding below the resized image
    maps = restore(torch.ones(2, 1, 128, 128), placements)
    assert [tuple(m.shape) for m in maps] == [(37, 53), (64, 20)]
    assert all(torch.allclose(m, torch.ones_like(m)) for m in maps)


def test_unknown_policy_and_bad_image():
    with pytest.raises(ValueError, match="unknown input policy"):
        prepare_batch(_images(), policy="squash", image_size=64)
    with pytest.raises(ValueError, match="HxWx3"):
        prepare_batch([np.zeros((5, 5), np.uint8)], policy="native", image_size=64)
