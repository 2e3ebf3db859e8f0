from __future__ import annotations

import numpy as np
import pytest
import torch

from deal.data import SAM_PIXEL_MEAN, SAM_PIXEL_STD, build_eval_transform, build_train_transform


def _sample(h: int, w: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """An image whose red channel encodes the mask (255 where marked), so alignment is checkable."""
    rng = np.random.default_rng(seed)
    mask = (rng.random((h, w)) > 0.5).astype(np.uint8)
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    image[..., 0] = mask * 255
    return image, mask


def _denorm_red(image: torch.Tensor) -> torch.Tensor:
    return image[0] * SAM_PIXEL_STD[0] + SAM_PIXEL_MEAN[0]


def test_normalization_uses_sam_mean_std():
    t = build_eval_transform(None, "native")
    out = t(image=np.full((16, 16, 3), 200, np.uint8), mask=np.ones((16, 16), np.uint8))
    expected = [(200 - m) / s for m, s in zip(SAM_PIXEL_MEAN, SAM_PIXEL_STD)]
    assert out["image"].dtype == torch.float32 and out["image"].shape == (3, 16, 16)
    torch.testing.assert_close(out["image"][:, 5, 5], torch.tensor(expected), atol=1e-5, rtol=0)
    assert out["mask"].dtype == torch.float32 and out["mask"].shape == (1, 16, 16)
    assert out["mask"].sum().item() == 256


def test_train_crop_keeps_image_and_mask_aligned():
    image, mask = _sample(40, 50)
    t = build_train_transform(32, hflip=True, vflip=True)
    for _ in range(5):
        out = t(image=image, mask=mask)
        assert out["image"].shape == (3, 32, 32) and out["mask"].shape == (1, 32, 32)
        red = _denorm_red(out["image"])
        torch.testing.assert_close((red > 127).float(), out["mask"][0])
        assert set(out["mask"].unique().tolist()) <= {0.0, 1.0}


def test_train_pads_small_images_with_zero_mask():
    image, mask = np.full((10, 12, 3), 255, np.uint8), np.ones((10, 12), np.uint8)
    out = build_train_transform(32, random_crop=False, hflip=False)(image=image, mask=mask)
    assert out["image"].shape == (3, 32, 32)
    assert out["mask"].sum().item() == 120  # only the 10x12 original pixels are marked
    pad = out["image"][:, 0, 0]  # padded with the SAM mean colour -> ~0 after normalization
    assert pad.abs().max().item() < 0.02


def test_degradations_change_only_the_image():
    image, mask = _sample(32, 32, seed=1)
    t = build_train_transform(
        32,
        hflip=False,
        jpeg_quality=(30, 40),
        jpeg_p=1.0,
        blur=1.0,
        noise=1.0,
        downscale=1.0,
        normalize=False,
    )
    out = t(image=image, mask=mask)
    assert out["image"].dtype == torch.uint8
    torch.testing.assert_close(out["mask"][0], torch.from_numpy(mask).float())
    assert (out["image"].permute(1, 2, 0).numpy().astype(int) - image).any()


def test_eval_native_keeps_pixels_top_left_and_pads_to_16():
    image, mask = _sample(20, 33)
    out = build_eval_transform(None, "native", normalize=False)(image=image, mask=mask)
    assert out["image"].shape == (3, 32, 48)
    np.testing.assert_array_equal(out["image"][:, :20, :33].permute(1, 2, 0).numpy(), image)
    assert out["mask"][0, :20, :33].sum().item() == mask.sum() and out["mask"][0, 20:].sum().item() == 0
    assert build_eval_transform(64, "native")(image=image, mask=mask)["image"].shape == (3, 64, 64)


def test_eval_sam_and_squash_policies():
    image, mask = _sample(20, 40)
    out = build_eval_transform(64, "sam")(image=image, mask=mask)
    assert out["image"].shape == (3, 64, 64)
    assert out["mask"][0, 32:].sum().item() == 0  # 20x40 -> 32x64, padded below
    assert build_eval_transform(24, "squash")(image=image, mask=mask)["mask"].shape == (1, 24, 24)
    with pytest.raises(ValueError, match="choose one of native, sam, squash"):
        build_eval_transform(64, "bogus")
