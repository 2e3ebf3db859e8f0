"""The one image decoder of deal: any image input (a file, a PIL image, an array, a tensor) as an HxWx3
uint8 RGB array, or a clear error. Detection, benchmark, evaluation, calibration, training (through
deal.data.io) and the data tools all decode images here.

Files are read once as bytes: the sha256 recorded for an image is the hash of exactly the bytes decoded.
Conversions (documented in docs/detect.md, "Inputs"):

- EXIF orientation is applied, to files and PIL images alike: outputs match the image as displayed.
- 16-bit and 32-bit grayscale (Pillow modes ``I;16*``, ``I``) are scaled from 0-65535 to 0-255 (rounded),
  not clipped; float grayscale (``F``) from 0-1 when its maximum is at most 1.
- CMYK, palette, grayscale, 1-bit and YCbCr images go through Pillow's conversion to RGB.
- Alpha is dropped (the stored colour values are kept, not composited on a background: forensic traces
  live in those values).
- Animated or multi-page files: the first frame, with a note.
- An image whose header declares more than ``max_pixels`` pixels is refused before it is decoded
  (a decompression bomb guard), in one message naming that limit whatever Pillow's own limit is.
- A PNG text chunk Pillow refuses (compressed text over its 1 MiB limit, as ComfyUI and A1111 workflows
  can be) is set aside so that the pixels decode; the provenance records it.

A file is opened and decoded once: the provenance reader reads the same opened image.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from deal.fileio import sha256_bytes
from deal.provenance import OpenedImage, ProvenanceOptions, open_image, read_provenance

__all__ = [
    "DEFAULT_MAX_PIXELS", "IMAGE_EXTENSIONS", "MIN_ANALYSABLE_SIDE", "ImageLoadError", "LoadedImage",
    "ensure_pillow_limit", "load_any", "load_image_file", "scale_to_uint8", "small_image_notes",
]

# The image files deal reads, by extension (any case): datasets, `deal detect` inputs, the data tools.
IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp")

DEFAULT_MAX_PIXELS = 100_000_000

# The smallest image a detector can say something about. The encoder sees an image as 16x16-pixel patches
# (ModelConfig.patch_size, 16 for every SAM size and the tiny encoder; a test holds the two equal): an image
# with a side under one patch is padded to a patch that is mostly padding, so its heatmap and verdict rest
# on a few real pixels. Such images are still analysed; their LoadedImage, Detection and record carry the
# note. A literal here, not ModelConfig's value: the decoder sits below deal.modeling (deal.data imports it).
def default_decode_workers() -> int:
    """Threads that decode images ahead of the model (and render the report's views): min(4, CPU count)."""
    return min(4, os.cpu_count() or 1)


MIN_ANALYSABLE_SIDE = 16  # one encoder patch
_EXIF_ORIENTATION = 0x0112


class ImageLoadError(ValueError):
    """An input could not be turned into an image; the message names the input and the problem."""


@dataclass
class LoadedImage:
    """A decoded input.

    Attributes:
        array: HxWx3 uint8 RGB, as displayed (EXIF orientation applied).
        source: what was given (a path as a string, or a short description of an in-memory input).
        sha256: hash of the file's bytes (None for in-memory inputs).
        nbytes: the file's size in bytes (None for in-memory inputs).
        notes: conversions worth knowing about ("first frame of 12", "EXIF orientation 6 applied", ...).
        provenance: what the file's bytes say about its origin (deal.provenance.read_provenance), or None
            (an in-memory input, or provenance not asked for).
    """

    array: np.ndarray
    source: str
    sha256: str | None = None
    nbytes: int | None = None
    notes: list[str] = field(default_factory=list)
    provenance: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.notes = [*self.notes, *small_image_notes(*self.array.shape[:2])]


def small_image_notes(height: int, width: int) -> list[str]:
    """[note] when a side is under MIN_ANALYSABLE_SIDE pixels, else []."""
    if min(height, width) >= MIN_ANALYSABLE_SIDE:
        return []
    return [
        f"image is {width}x{height}: below the minimum analysable size ({MIN_ANALYSABLE_SIDE} px a side, one "
        "patch of the encoder); the heatmap and verdict rest on too few pixels to mean much"
    ]


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


def pil_to_rgb(img: Image.Image) -> np.ndarray:
    """A decoded PIL image (any mode) -> HxWx3 uint8 RGB; alpha dropped, 16-bit gray scaled."""
    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        gray = scale_to_uint8(img)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.array(img, dtype=np.uint8)


def ensure_pillow_limit(max_pixels: int) -> None:
    """Raises Pillow's own decompression-bomb limit to at least `max_pixels`, so that images up to
    `max_pixels` open and the caller's check of the declared size, in its own words, decides."""
    # Pillow raises DecompressionBombError on open above 2 * MAX_IMAGE_PIXELS. Our own check (as in
    # decode_image_bytes) refuses anything over max_pixels with a clearer message, so only raise Pillow's
    # limit if needed.
    if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < max_pixels:
        Image.MAX_IMAGE_PIXELS = max_pixels


def _too_large(name: str, max_pixels: int, w: int | None = None, h: int | None = None) -> ImageLoadError:
    """The one message of an image over the pixel limit (its size when known: Pillow's own guard refuses
    far larger headers before telling their size)."""
    size = f"{w}x{h} = {w * h:,} pixels, over" if w is not None and h is not None else "over"
    return ImageLoadError(
        f"{name}: image is {size} the limit of {max_pixels:,} pixels (a possible decompression bomb); "
        "raise --max-pixels to process it"
    )


def as_displayed(img: Image.Image, notes: list[str]) -> Image.Image:
    """The image as displayed: its EXIF orientation applied (a note says which), for files and PIL images
    alike; the image itself when it has none."""
    orientation = img.getexif().get(_EXIF_ORIENTATION, 1)
    if orientation in (None, 1):
        return img
    notes.append(f"EXIF orientation {orientation} applied")
    return ImageOps.exif_transpose(img)


def _decode_opened(opened: OpenedImage, name: str, max_pixels: int) -> tuple[np.ndarray, list[str]]:
    img, notes = opened.image, []
    w, h = img.size
    if w * h > max_pixels:
        raise _too_large(name, max_pixels, w, h)
    frames = getattr(img, "n_frames", 1)
    if frames > 1:
        notes.append(f"{frames} frames (animated or multi-page): the first frame was analysed")
    img.load()
    return pil_to_rgb(as_displayed(img, notes)), notes


def decode_image_bytes(
    data: bytes, name: str, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> tuple[np.ndarray, list[str], OpenedImage]:
    """Encoded image bytes -> (HxWx3 uint8 RGB as displayed, notes, the opened and decoded image: what the
    provenance reader reads). ImageLoadError names `name`."""
    if not data:
        raise ImageLoadError(f"{name}: empty file (0 bytes)")
    ensure_pillow_limit(max_pixels)
    try:
        opened = open_image(data)
        array, notes = _decode_opened(opened, name, max_pixels)
    except Image.DecompressionBombError as err:  # Pillow's guard, far above ours: our limit, our words
        raise _too_large(name, max_pixels) from err
    except UnidentifiedImageError as err:
        raise ImageLoadError(f"{name}: not an image Pillow can read ({len(data):,} bytes)") from err
    except ImageLoadError:
        raise
    except (OSError, ValueError, SyntaxError, EOFError, KeyError, IndexError) as err:
        raise ImageLoadError(f"{name}: corrupt or truncated image data: {err}") from err
    if array.ndim != 3 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ImageLoadError(f"{name}: decoded to an empty image of shape {array.shape}")
    return array, notes, opened


def load_image_file(
    path: str | os.PathLike, *, max_pixels: int = DEFAULT_MAX_PIXELS, provenance: ProvenanceOptions | None = None
) -> LoadedImage:
    """Reads and decodes one image file (and, with `provenance` options, reads its provenance from the same
    bytes). Raises ImageLoadError naming the file and the problem."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError as err:
        raise ImageLoadError(f"{name}: no such file") from err
    except PermissionError as err:
        raise ImageLoadError(f"{name}: permission denied (cannot read the file)") from err
    except IsADirectoryError as err:
        raise ImageLoadError(f"{name}: is a folder, not an image file") from err
    except OSError as err:
        raise ImageLoadError(f"{name}: cannot read: {err.strerror or err}") from err
    array, notes, opened = decode_image_bytes(data, name, max_pixels=max_pixels)
    prov = None
    if provenance is not None and provenance.enabled:
        prov = read_provenance(data, provenance, opened=opened, name=name)
    return LoadedImage(array, name, sha256_bytes(data), len(data), notes, prov)


def _array_to_rgb(arr: np.ndarray, what: str) -> np.ndarray:
    """HxWx3 (or 3xHxW when the first axis is 3 and the last is not), uint8 or float in [0, 1] -> HxWx3 uint8."""
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3:
        raise ImageLoadError(f"{what}: expected an HxWx3 or 3xHxW image, got shape {arr.shape}")
    if arr.shape[0] == 3 and arr.shape[-1] != 3:
        arr = np.moveaxis(arr, 0, -1)
    if arr.shape[-1] != 3:
        raise ImageLoadError(f"{what}: expected 3 colour channels, got shape {arr.shape}")
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if np.issubdtype(arr.dtype, np.floating):
        if arr.size and (not np.isfinite(arr).all() or arr.min() < 0.0 or arr.max() > 1.0):
            raise ImageLoadError(f"{what}: a float image must hold values in [0, 1]")
        return np.ascontiguousarray(np.rint(arr.astype(np.float64) * 255.0).astype(np.uint8))
    raise ImageLoadError(f"{what}: unsupported dtype {arr.dtype}; pass uint8 (0-255) or float (0-1)")


def load_any(
    item: Any, *, max_pixels: int = DEFAULT_MAX_PIXELS, provenance: ProvenanceOptions | None = None
) -> LoadedImage:
    """A path, PIL image, numpy array or torch tensor -> LoadedImage.

    Arrays and tensors are HxWx3 or 3xHxW (a 3x?x3 shape is read as 3xHxW, torch's convention), uint8 on
    0-255 or float on [0, 1]; HxW is taken as grayscale.
    """
    if isinstance(item, (str, os.PathLike)):
        return load_image_file(item, max_pixels=max_pixels, provenance=provenance)
    if isinstance(item, Image.Image):
        w, h = item.size
        if w * h > max_pixels:
            raise _too_large("PIL image", max_pixels, w, h)
        notes: list[str] = []
        return LoadedImage(pil_to_rgb(as_displayed(item, notes)), f"PIL image {w}x{h}", notes=notes)
    if type(item).__module__.startswith("torch"):
        item = item.detach().cpu().numpy()
    if isinstance(item, np.ndarray):
        arr = _array_to_rgb(item, f"array of shape {item.shape}")
        h, w = arr.shape[:2]
        if w * h > max_pixels:
            raise _too_large("array", max_pixels, w, h)
        return LoadedImage(arr, f"array {w}x{h}")
    raise ImageLoadError(
        f"cannot use an input of type {type(item).__name__}: pass a path, a PIL image, an array or a tensor"
    )
