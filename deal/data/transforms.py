"""Training augmentations (albumentations), applied identically to an image and its mask, on uint8 pixels.

Input and output: ``image`` HxWx3 uint8 RGB, ``mask`` HxW uint8 {0,1}. This module only augments: it
never resizes for the model, pads or normalizes. That is the model's input pipeline, defined once in
deal.modeling and called by the training step, validation, calibration, benchmark and detection alike,
so every layer feeds the model the same pixels. Training composes the crop the model's input policy
asks for (deal.training.datamodule) and passes it here:

* a size: a random (or centre) crop of at most ``size x size`` pixels. An image smaller than the crop
  along an axis keeps that axis whole; the model's preprocessing pads it, as at inference.
* None: no crop: the model's preprocessing resizes the whole image (SAM's policy).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from albumentations import (
    BasicTransform,
    Compose,
    Downscale,
    DualTransform,
    GaussianBlur,
    GaussNoise,
    HorizontalFlip,
    ImageCompression,
    VerticalFlip,
)


class CropAtMost(DualTransform):
    """Crop at most ``size x size`` pixels (random or centred); smaller axes are kept whole.

    albumentations' RandomCrop/CenterCrop need an image at least as large as the crop (or pad it
    themselves); padding belongs to the model's preprocessing, so this crop never pads.
    """

    def __init__(self, size: int, random: bool = True, p: float = 1.0) -> None:
        super().__init__(p=p)
        self.size = int(size)
        self.random = bool(random)

    def get_params_dependent_on_data(self, params: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        h, w = params["shape"][:2]
        ch, cw = min(h, self.size), min(w, self.size)
        if self.random:
            y = int(self.py_random.randint(0, h - ch))
            x = int(self.py_random.randint(0, w - cw))
        else:
            y, x = (h - ch) // 2, (w - cw) // 2
        return {"box": (y, x, ch, cw)}

    def apply(self, img: np.ndarray, box: tuple[int, int, int, int], **_: Any) -> np.ndarray:
        y, x, h, w = box
        return np.ascontiguousarray(img[y : y + h, x : x + w])

    def apply_to_mask(self, mask: np.ndarray, box: tuple[int, int, int, int], **_: Any) -> np.ndarray:
        return self.apply(mask, box)

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("size", "random")


def build_train_transform(
    size: int | None,
    *,
    hflip: bool = True,
    vflip: bool = False,
    random_crop: bool = True,
    jpeg_quality: tuple[int, int] | None = None,
    jpeg_p: float = 0.5,
    blur: float = 0.0,
    blur_sigma: tuple[float, float] = (0.3, 1.5),
    noise: float = 0.0,
    noise_std: tuple[float, float] = (0.01, 0.04),
    downscale: float = 0.0,
    downscale_range: tuple[float, float] = (0.5, 0.9),
    paired: bool = False,
    seed: int | None = None,
) -> Compose:
    """The training augmentations.

    Degradations come first, on the whole image, as a publisher would apply them (JPEG's 8x8 grid is
    then that of the full image), then the crop and flips.

    Args:
        size: the crop side (crops of at most size x size), or None: no crop (whole images).
        hflip, vflip: random flips with probability 0.5.
        random_crop: a random (True) or centre (False) crop.
        jpeg_quality: JPEG re-compression quality range, applied with probability ``jpeg_p``; None: off.
        blur: probability of a Gaussian blur with sigma in ``blur_sigma``.
        noise: probability of Gaussian noise, std in ``noise_std`` as a fraction of 255.
        downscale: probability of a down-then-up resampling by a factor in ``downscale_range``.
        paired: also take an ``original`` image target, transformed with the same draw as ``image`` (an
            edit and its unedited original: :class:`deal.data.dataset.PairedLocalizationDataset`).
        seed: seed of the transform's own random state (albumentations draws from it, never from the global
            ``random``/NumPy state): None draws one from the OS, i.e. not reproducible. The training data
            module reseeds it per loader worker (:func:`deal.training.datamodule.seed_transform_worker`).

    Returns:
        A ``Compose`` called as ``t(image=HxWx3 uint8, mask=HxW uint8)``, returning both as uint8 numpy.
    """
    if size is not None and size < 1:
        raise ValueError(f"the crop size must be >= 1 (or None for whole images), got {size}")
    steps: list[BasicTransform] = []
    if jpeg_quality is not None:
        steps.append(ImageCompression(compression_type="jpeg", quality_range=jpeg_quality, p=jpeg_p))
    if blur > 0:
        steps.append(GaussianBlur(blur_limit=0, sigma_limit=blur_sigma, p=blur))
    if noise > 0:
        steps.append(GaussNoise(std_range=noise_std, p=noise))
    if downscale > 0:
        steps.append(
            Downscale(
                scale_range=downscale_range,
                interpolation_pair={"downscale": cv2.INTER_AREA, "upscale": cv2.INTER_LINEAR},
                p=downscale,
            )
        )
    if size is not None:
        steps.append(CropAtMost(size, random=random_crop))
    if hflip:
        steps.append(HorizontalFlip(p=0.5))
    if vflip:
        steps.append(VerticalFlip(p=0.5))
    return Compose(steps, additional_targets={"original": "image"} if paired else None, seed=seed)
