"""The ground truth of a dataset record as an ``HxW`` {0, 1} array, without decoding the image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from deal.data.errors import DatasetError
from deal.data.io import read_mask
from deal.data.sample import Record

# EXIF orientations that swap width and height (read_image applies them).
_TRANSPOSING_ORIENTATIONS = frozenset({5, 6, 7, 8})


def image_hw(path: str | Path) -> tuple[int, int]:
    """``(height, width)`` of an image as :func:`deal.data.io.read_image` returns it (EXIF orientation
    applied), read from the header only.

    Raises:
        DatasetError: the file is missing or not an image.
    """
    try:
        with Image.open(path) as img:
            w, h = img.size
            orientation = img.getexif().get(0x0112, 1)
    except FileNotFoundError as err:
        raise DatasetError(f"image not found: {path}") from err
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise DatasetError(f"cannot read image {path}: {err}") from err
    return (w, h) if orientation in _TRANSPOSING_ORIENTATIONS else (h, w)


def read_ground_truth(record: Record, hw: tuple[int, int] | None = None) -> np.ndarray:
    """The record's mask as ``HxW`` uint8 {0, 1}; all zeros for a record without mask (authentic).

    Args:
        record: the dataset record.
        hw: the image's ``(height, width)`` when already known; else read from the image header.

    Raises:
        DatasetError: unreadable files, or a mask whose size differs from its image (naming both).
    """
    hw = image_hw(record.image) if hw is None else hw
    if record.mask is None:
        return np.zeros(hw, dtype=np.uint8)
    return read_mask(record.mask, expected_hw=hw, image_path=record.image)
