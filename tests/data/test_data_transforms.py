"""Training augmentations: uint8 in, uint8 out, image and mask kept aligned; never resize for the model,
pad or normalize (that is deal.modeling.input_policy's job, tested in tests/modeling)."""

from __future__ import annotations

import numpy as np
import pytest

from deal.data import build_train_transform


def _sample(h: int, w: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """An image whose red channel encodes the mask (255 where marked), so alignment is checkable."""
    rng = np.random.default_rng(seed)
    mask = (rng.random((h, w)) > 0.5).astype(np.uint8)
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    image[..., 0] = mask * 255
    return image, mask


def test_train_crop_keeps_image_and_mask_aligned():
    image, mask = _sample(40, 50)
    t = build_train_transform(32, hflip=True, vflip=True)
    for _ in range(5):
        out = t(image=image, mask=mask)
        assert out["image"].shape == (32, 32, 3) and out["image"].dtype == np.uint8
        assert out["mask"].shape == (32, 32) and out["mask"].dtype == np.uint8
        np.testing.assert_array_equal((out["image"][..., 0] > 127).astype(np.uint8), out["mask"])


def test_crop_is_a_window_of_the_original_pixels():
    image, mask = _sample(40, 50, seed=3)
    out = build_train_transform(32, hflip=False)(image=image, mask=mask)
    windows = [
        (y, x) for y in range(9) for x in range(19) if np.array_equal(image[y : y + 32, x : x + 32], out["image"])
    ]
    assert len(windows) == 1
    y, x = windows[0]
    np.testing.assert_array_equal(out["mask"], mask[y : y + 32, x : x + 32])


def test_small_images_are_cropped_to_at_most_the_size_never_padded():
    image, mask = np.full((10, 40, 3), 255, np.uint8), np.ones((10, 40), np.uint8)
    out = build_train_transform(32, random_crop=False, hflip=False)(image=image, mask=mask)
    assert out["image"].shape == (10, 32, 3) and out["mask"].shape == (10, 32)
    assert int(out["mask"].sum()) == 320 and int(out["image"].min()) == 255  # no padding colour anywhere


def test_no_crop_keeps_the_whole_image():
    image, mask = _sample(20, 40)
    out = build_train_transform(None, hflip=False)(image=image, mask=mask)  # the sam policy's training
    np.testing.assert_array_equal(out["image"], image)
    with pytest.raises(ValueError, match="crop size must be >= 1"):
        build_train_transform(0)


def test_degradations_change_only_the_image():
    image, mask = _sample(32, 32, seed=1)
    t = build_train_transform(
        32, hflip=False, jpeg_quality=(30, 40), jpeg_p=1.0, blur=1.0, noise=1.0, downscale=1.0
    )
    out = t(image=image, mask=mask)
    assert out["image"].dtype == np.uint8
    np.testing.assert_array_equal(out["mask"], mask)
    assert (out["image"].astype(int) - image).any()
