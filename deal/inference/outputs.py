"""Per-image output files: what each holds, how it is named, and its bytes (deterministic encoders).

For an input ``<rel>/<name>`` (name with its extension, so photo.jpg and photo.png never collide, as
TruFor's ``photo.jpg.npz``), under the output folder:

=========  ==========================  ===========================================================
kind       file                        content
=========  ==========================  ===========================================================
heatmap    <name>.heatmap.png          8-bit grayscale, value = round(255 * p)
mask       <name>.mask.png             8-bit grayscale, 255 where p > threshold, else 0
overlay    <name>.overlay.jpg          the image with the heatmap in red (JPEG quality 90)
npz        <name>.npz                  TruFor-compatible: map (float32 HxW), score (float), imgsize (H, W)
json       <name>.json                 the result record (written last: its presence means complete)
=========  ==========================  ===========================================================
"""

from __future__ import annotations

import io

import cv2
import numpy as np

OUTPUT_KINDS = ("heatmap", "mask", "overlay", "npz", "json")
DEFAULT_SAVE = ("heatmap", "mask", "overlay", "json")
SUFFIXES = {
    "heatmap": ".heatmap.png",
    "mask": ".mask.png",
    "overlay": ".overlay.jpg",
    "npz": ".npz",
    "json": ".json",
}
OVERLAY_ALPHA = 0.6  # the overlay's red opacity at p = 1
OVERLAY_QUALITY = 90
THUMBNAIL_SIDE = 240
_ROWS_PER_CHUNK = 512  # overlays are blended in row chunks, so huge images need no float copy


def parse_save(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """ "heatmap,mask" or a list -> validated kinds in canonical order. ValueError lists the valid choices."""
    kinds = [k.strip().lower() for k in (value.split(",") if isinstance(value, str) else value)]
    kinds = [k for k in kinds if k]
    unknown = [k for k in kinds if k not in OUTPUT_KINDS]
    if unknown:
        raise ValueError(f"unknown output kind(s) {unknown}; choose from {','.join(OUTPUT_KINDS)}")
    return tuple(k for k in OUTPUT_KINDS if k in kinds)


def output_name(name: str, kind: str) -> str:
    return name + SUFFIXES[kind]


def heatmap_u8(heatmap: np.ndarray) -> np.ndarray:
    """HxW float32 in [0, 1] -> HxW uint8, round(255 * p)."""
    return np.rint(np.clip(heatmap, 0.0, 1.0) * 255.0).astype(np.uint8)


def _png(gray: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", gray)
    if not ok:
        raise OSError("PNG encoding failed")
    return buf.tobytes()


def _jpeg(rgb: np.ndarray, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise OSError("JPEG encoding failed")
    return buf.tobytes()


def heatmap_png(heatmap: np.ndarray) -> bytes:
    return _png(heatmap_u8(heatmap))


def mask_png(mask: np.ndarray) -> bytes:
    return _png(mask.astype(np.uint8) * np.uint8(255))


def overlay_rgb(image: np.ndarray, heatmap: np.ndarray, alpha: float = OVERLAY_ALPHA) -> np.ndarray:
    """HxWx3 uint8 image blended towards red by alpha * p per pixel -> HxWx3 uint8."""
    out = np.empty_like(image)
    red = np.array([255.0, 0.0, 0.0], dtype=np.float32)
    for y in range(0, image.shape[0], _ROWS_PER_CHUNK):
        a = (alpha * heatmap[y : y + _ROWS_PER_CHUNK, :, None]).astype(np.float32)
        rows = image[y : y + _ROWS_PER_CHUNK].astype(np.float32)
        out[y : y + _ROWS_PER_CHUNK] = np.rint(rows * (1.0 - a) + red * a).astype(np.uint8)
    return out


def overlay_jpg(image: np.ndarray, heatmap: np.ndarray) -> bytes:
    return _jpeg(overlay_rgb(image, heatmap), OVERLAY_QUALITY)


def thumbnail_jpg(image: np.ndarray, heatmap: np.ndarray, side: int = THUMBNAIL_SIDE) -> bytes:
    """A small overlay (longest side `side`) for the HTML report."""
    h, w = heatmap.shape
    scale = min(1.0, side / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA) if scale < 1 else image
    small_map = cv2.resize(heatmap, size, interpolation=cv2.INTER_AREA) if scale < 1 else heatmap
    return _jpeg(overlay_rgb(small, small_map), 85)


def npz_bytes(heatmap: np.ndarray, score: float) -> bytes:
    """TruFor's .npz layout: map (HxW float32), score (float64 scalar), imgsize (H, W) int64.

    Deterministic bytes: numpy writes zip entries with a fixed timestamp.
    """
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        map=heatmap.astype(np.float32, copy=False),
        score=np.float64(score),
        imgsize=np.array(heatmap.shape, dtype=np.int64),
    )
    return buf.getvalue()
