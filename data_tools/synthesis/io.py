"""Image and table I/O shared by the dataset tools: sorted image listing, RGB reading, and atomic writes.

Every file is written to a temporary name in its destination folder and moved into place with
``os.replace``, so an interrupted run never leaves a truncated file under the final name. PNGs are
encoded with fixed parameters so that the same pixels always give the same bytes.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from deal.data.paths import IMAGE_EXTENSIONS
from deal.fileio import atomic_write_bytes

IMAGE_SUFFIXES: tuple[str, ...] = IMAGE_EXTENSIONS

# Fixed PNG parameters: byte-identical output for identical pixels (zlib level 3, default strategy).
PNG_PARAMS: tuple[int, ...] = (cv2.IMWRITE_PNG_COMPRESSION, 3, cv2.IMWRITE_PNG_STRATEGY, 0)


def list_images(root: str | os.PathLike[str]) -> list[Path]:
    """All image files under ``root`` (recursive), sorted by their path relative to ``root``.

    Raises:
        FileNotFoundError: ``root`` is not a folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a folder")
    files = [p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    return sorted(files, key=lambda p: p.relative_to(root).as_posix())


def read_rgb(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file as an ``HxWx3 uint8`` RGB array (grey images are expanded, alpha dropped).

    Raises:
        ValueError: the file cannot be decoded (the message names the file).
    """
    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise ValueError(f"{path}: cannot decode image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_mask(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a mask file as an ``HxW uint8`` array of {0, 1} (values > 127 are 1)."""
    data = np.fromfile(str(path), dtype=np.uint8)
    mask = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
    if mask is None:
        raise ValueError(f"{path}: cannot decode mask")
    return (mask > 127).astype(np.uint8)


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of an ``HxW`` (grey) or ``HxWx3`` RGB uint8 array, with :data:`PNG_PARAMS`."""
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", image, list(PNG_PARAMS))
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def mask_png(mask: np.ndarray) -> bytes:
    """PNG bytes of a binary mask: mode L, 0 / 255 (255 = edited)."""
    return encode_png(np.where(mask > 0, 255, 0).astype(np.uint8))


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (deal.fileio: a temporary file in the same folder, then rename)."""
    atomic_write_bytes(path, data)
    return Path(path)


def write_csv_atomic(
    path: str | os.PathLike[str], columns: Sequence[str], rows: Iterable[Mapping[str, object]]
) -> Path:
    """Write a CSV with a header row and ``\\n`` line endings, atomically."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n", extrasaction="raise")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return write_bytes_atomic(path, buf.getvalue().encode("utf-8"))
