"""Reading images and masks from disk into the arrays of the sample contract (Pillow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from deal.data.errors import DatasetError

# A mask pixel is "edited" when its value is above this (on the 0-255 scale).
MASK_THRESHOLD = 127


def scale_to_uint8(img: Image.Image) -> np.ndarray:
    """Pillow's high-bit-depth single-channel modes as HxW uint8 (``convert`` would clip, not scale).

    ``I;16*`` and ``I`` (how Pillow opens 16-bit PNG/TIFF) are scaled from 0-65535; ``F`` (float
    TIFF) from 0-1 when its maximum is at most 1, else clipped to 0-255.
    """
    arr = np.asarray(img)
    if img.mode == "F":
        arr = arr.astype(np.float64)
        if arr.size and np.nanmax(arr) <= 1.0:
            arr = arr * 255.0
        return np.clip(np.nan_to_num(arr), 0, 255).round().astype(np.uint8)
    arr = np.clip(arr.astype(np.int64), 0, 65535)
    return ((arr * 255 + 32767) // 65535).astype(np.uint8)


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
    """Read an image as RGB.

    EXIF orientation is applied. Every Pillow mode is converted to RGB: 16-bit and float
    grayscale are scaled to 8 bit (not clipped), CMYK and palette images go through Pillow's
    conversion, alpha is dropped (stored colour values are kept, not composited: forensic
    traces live in those values). Pillow already reduces 16-bit RGB PNGs to 8 bit on load.

    Returns:
        ``HxWx3`` uint8 array.

    Raises:
        DatasetError: the file is missing or cannot be decoded (the message names it).
    """
    path = Path(path)
    img = _open(path, "image")
    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        gray = scale_to_uint8(img)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.asarray(img, dtype=np.uint8).copy()


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
