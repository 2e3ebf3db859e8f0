"""Reading images and masks from disk into the arrays of the sample contract (images: deal.imageio)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from deal.data.errors import DatasetError
from deal.imageio import ImageLoadError, load_image_file, scale_to_uint8

# A mask pixel is "edited" when its value is above this (on the 0-255 scale).
MASK_THRESHOLD = 127


def _open(path: Path, kind: str) -> Image.Image:
    try:
        img = Image.open(path)
        img.load()  # decode now, so truncated files fail here with the file's name
    except FileNotFoundError as err:
        raise DatasetError(f"{kind} not found: {path}") from err
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise DatasetError(f"cannot read {kind} {path}: {err}") from err
    return ImageOps.exif_transpose(img)


def read_image(path: str | Path) -> np.ndarray:
    """Read an image as RGB, with deal's one image decoder (deal.imageio.load_image_file, as `deal detect`).

    EXIF orientation is applied. Every Pillow mode is converted to RGB: 16-bit and float
    grayscale are scaled to 8 bit (not clipped), CMYK and palette images go through Pillow's
    conversion, alpha is dropped (stored colour values are kept, not composited: forensic
    traces live in those values).

    Returns:
        ``HxWx3`` uint8 array.

    Raises:
        DatasetError: the file is missing or cannot be decoded (the message names it).
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"image not found: {path}")
    try:
        return load_image_file(path).array
    except ImageLoadError as err:
        raise DatasetError(f"cannot read image {err}") from err


def mask_values(path: str | Path) -> np.ndarray:
    """A mask file's values on the 0-255 scale before binarization, ``HxW`` uint8.

    Colour masks use the largest channel (a pure red or blue region counts as marked), 16-bit
    masks are scaled to 8 bit, alpha is ignored, EXIF orientation is applied like for images.
    """
    path = Path(path)
    img = _open(path, "mask")
    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        return scale_to_uint8(img)
    if img.mode in ("1", "L"):
        return np.asarray(img.convert("L"), dtype=np.uint8).copy()
    if img.mode == "LA":
        return np.asarray(img, dtype=np.uint8)[:, :, 0].copy()
    rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
    return rgb.max(axis=2)


def read_mask(
    path: str | Path,
    expected_hw: tuple[int, int] | None = None,
    image_path: str | Path | None = None,
) -> np.ndarray:
    """Read a mask as ``HxW`` uint8 of {0, 1} (1 = edited: values > 127 on the 0-255 scale).

    Args:
        path: the mask file.
        expected_hw: ``(height, width)`` of its image; a different mask size is an error.
        image_path: the image's file, named in the size-mismatch error.

    Raises:
        DatasetError: unreadable mask, or its size differs from ``expected_hw``.
    """
    values = mask_values(path)
    if expected_hw is not None and tuple(values.shape[:2]) != tuple(expected_hw):
        h, w = values.shape[:2]
        eh, ew = expected_hw
        raise DatasetError(
            f"mask {path} is {w}x{h} (WxH) but its image {image_path or '(unknown)'} is {ew}x{eh}"
        )
    return (values > MASK_THRESHOLD).astype(np.uint8)
