"""albumentations pipelines applied identically to an image and its mask.

Input: ``image`` HxWx3 uint8 RGB, ``mask`` HxW uint8 {0,1}. Output (``normalize=True``):
``image`` 3xSxS float32 tensor normalized with SAM's pixel mean/std (0-255 scale), ``mask``
1xSxS float32 tensor of {0,1}.

Resolution policies (resampling destroys the high-frequency traces the model looks for, so the
default never resizes):

* ``"native"``: no resampling. Training pads (image with the SAM mean colour, mask with 0) to at
  least ``size`` and crops ``size x size`` (random or centre). Evaluation pads bottom/right to
  ``size`` (or to a multiple of 16 when ``size`` is None, and always to a multiple of 16 for larger
  images): the original pixels are the top-left ``HxW`` of the output.
* ``"sam"``: SAM's preprocessing: longest side resized to ``size`` (default 1024), then padded
  bottom/right to ``size x size``; the resized image is the top-left of the output.
* ``"squash"``: resize to ``size x size`` ignoring the aspect ratio (SAM-Adapter's choice).

Masks are always resized with nearest neighbour, so they stay binary.
"""

from __future__ import annotations

import cv2
import numpy as np
from albumentations import (
    BasicTransform,
    CenterCrop,
    Compose,
    Downscale,
    GaussianBlur,
    GaussNoise,
    HorizontalFlip,
    ImageCompression,
    Lambda,
    LongestMaxSize,
    Normalize,
    PadIfNeeded,
    RandomCrop,
    Resize,
    VerticalFlip,
)
from albumentations.pytorch import ToTensorV2

SAM_PIXEL_MEAN: tuple[float, float, float] = (123.675, 116.28, 103.53)
SAM_PIXEL_STD: tuple[float, float, float] = (58.395, 57.12, 57.375)
# Padding colour: the SAM mean, so padded pixels normalize to ~0 (as SAM pads after normalizing).
PAD_FILL: tuple[int, int, int] = (124, 116, 104)
POLICIES: tuple[str, ...] = ("native", "sam", "squash")
SAM_SIZE = 1024
PAD_MULTIPLE = 16  # the ViT patch size


def _check_policy(policy: str) -> None:
    if policy not in POLICIES:
        raise ValueError(f"unknown resolution policy {policy!r}; choose one of {', '.join(POLICIES)}")


def _mask_to_float_hw1(mask: np.ndarray, **_: object) -> np.ndarray:
    # Module-level (not a lambda) so the pipeline pickles into DataLoader workers.
    return mask.astype(np.float32)[..., None]


def _tail(normalize: bool) -> list[BasicTransform]:
    steps: list[BasicTransform] = []
    if normalize:
        steps.append(Normalize(mean=SAM_PIXEL_MEAN, std=SAM_PIXEL_STD, max_pixel_value=1.0))
    steps += [Lambda(mask=_mask_to_float_hw1, name="mask_to_float_hw1"), ToTensorV2(transpose_mask=True)]
    return steps


def _pad(size: int, position: str) -> PadIfNeeded:
    return PadIfNeeded(
        min_height=size,
        min_width=size,
        position=position,
        border_mode=cv2.BORDER_CONSTANT,
        fill=PAD_FILL,
        fill_mask=0,
    )


def build_train_transform(
    size: int,
    *,
    policy: str = "native",
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
    normalize: bool = True,
) -> Compose:
    """Training pipeline producing ``size x size`` samples.

    Degradations come first, on the whole image, as a publisher would apply them (JPEG's 8x8
    grid is then that of the full image), followed by the geometry (see the module's policies),
    flips, normalization and tensor conversion.

    Args:
        size: output side S.
        policy: ``"native"`` (pad + crop, no resampling), ``"sam"`` or ``"squash"``.
        hflip, vflip: random flips with probability 0.5.
        random_crop: native policy only: random (True) or centre (False) ``size`` crop.
        jpeg_quality: JPEG re-compression quality range, applied with probability ``jpeg_p``;
            None disables it.
        blur: probability of a Gaussian blur with sigma in ``blur_sigma``.
        noise: probability of Gaussian noise, std in ``noise_std`` as a fraction of 255.
        downscale: probability of a down-then-up resampling by a factor in ``downscale_range``.
        normalize: SAM mean/std normalization to float32; False keeps the uint8 values as a tensor.

    Returns:
        A ``Compose`` called as ``t(image=HxWx3 uint8, mask=HxW uint8)`` returning ``image``
        3xSxS and ``mask`` 1xSxS float32 tensors.
    """
    _check_policy(policy)
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
    if policy == "native":
        steps.append(_pad(size, "random" if random_crop else "center"))
        steps.append(RandomCrop(size, size) if random_crop else CenterCrop(size, size))
    elif policy == "sam":
        steps += [LongestMaxSize(max_size=size, interpolation=cv2.INTER_LINEAR), _pad(size, "top_left")]
    else:
        steps.append(Resize(size, size, interpolation=cv2.INTER_LINEAR))
    if hflip:
        steps.append(HorizontalFlip(p=0.5))
    if vflip:
        steps.append(VerticalFlip(p=0.5))
    return Compose(steps + _tail(normalize))


def build_eval_transform(
    size: int | None = None, policy: str = "native", *, normalize: bool = True
) -> Compose:
    """Deterministic evaluation pipeline (no crop: every original pixel is kept).

    Args:
        size: ``native``: pad to at least ``size x size`` (None: only to a multiple of 16);
            ``sam``: longest side (default 1024); ``squash``: output side (required).
        policy: ``"native"``, ``"sam"`` or ``"squash"`` (see the module docstring for how to map
            a prediction back to the original ``HxW``).
        normalize: as in :func:`build_train_transform`.

    Returns:
        A ``Compose`` returning ``image`` 3xH'xW' and ``mask`` 1xH'xW' float32 tensors.
    """
    _check_policy(policy)
    steps: list[BasicTransform] = []
    if policy == "native":
        if size is not None:
            steps.append(_pad(size, "top_left"))
        steps.append(
            PadIfNeeded(
                min_height=None,
                min_width=None,
                pad_height_divisor=PAD_MULTIPLE,
                pad_width_divisor=PAD_MULTIPLE,
                position="top_left",
                border_mode=cv2.BORDER_CONSTANT,
                fill=PAD_FILL,
                fill_mask=0,
            )
        )
    elif policy == "sam":
        side = size or SAM_SIZE
        steps += [LongestMaxSize(max_size=side, interpolation=cv2.INTER_LINEAR), _pad(side, "top_left")]
    else:
        if size is None:
            raise ValueError("the 'squash' policy needs a size")
        steps.append(Resize(size, size, interpolation=cv2.INTER_LINEAR))
    return Compose(steps + _tail(normalize))
