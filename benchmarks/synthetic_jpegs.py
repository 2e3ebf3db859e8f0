"""Synthetic JPEG files for the end-to-end detection benchmark (row 5): smooth colour noise plus grain.

Smooth content compresses and decodes like a photograph more than white noise does; the values do not
matter to the model's speed.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from deal.fileio import atomic_write_bytes


def synthetic_image(size: int, rng: np.random.Generator) -> np.ndarray:
    """A size x size x 3 uint8 BGR image: low-resolution noise upsampled (bicubic) plus fine grain."""
    coarse = rng.normal(128.0, 60.0, size=(max(2, size // 16), max(2, size // 16), 3)).astype(np.float32)
    smooth = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    grain = rng.normal(0.0, 6.0, size=(size, size, 3)).astype(np.float32)
    return np.clip(smooth + grain, 0, 255).astype(np.uint8)


def write_synthetic_jpegs(
    folder: str | os.PathLike, n: int, size: int, *, seed: int = 0, quality: int = 90
) -> list[Path]:
    """Writes n JPEGs (size x size) named img_0000.jpg ... into `folder` (created). Returns their paths."""
    if n < 1 or size < 1:
        raise ValueError(f"need n >= 1 and size >= 1, got n={n}, size={size}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        ok, buf = cv2.imencode(".jpg", synthetic_image(size, rng), [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise RuntimeError(f"OpenCV could not encode synthetic JPEG {i} of size {size}")
        path = folder / f"img_{i:04d}.jpg"
        atomic_write_bytes(path, buf.tobytes())
        paths.append(path)
    return paths
