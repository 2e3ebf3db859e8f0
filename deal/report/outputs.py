"""Per-image output files: what each holds, how it is named, and its bytes (deterministic encoders).

For an input ``<rel>/<name>`` (name with its extension, so photo.jpg and photo.png never collide, as
TruFor's ``photo.jpg.npz``), under the output folder:

=========  ==========================  ===========================================================
kind       file                        content
=========  ==========================  ===========================================================
heatmap    <name>.heatmap.png          8-bit grayscale, value = round(255 * p)
mask       <name>.mask.png             8-bit grayscale, 255 where p > threshold, else 0
overlay    <name>.overlay.jpg          the image in gray, the heatmap blended in viridis colours (opacity
                                       OVERLAY_ALPHA * p), and the mask's contour when given (JPEG q 90)
npz        <name>.npz                  TruFor-compatible: map (float32 HxW), score (float), imgsize (H, W)
json       <name>.json                 the result record (written last: its presence means complete)
view-V     <name>.view-V.png           a classic forensic view's map (``deal detect --views``; V: ela, noise,
                                       jpeg, spectral, copymove), encoded as the heatmap
=========  ==========================  ===========================================================

The overlay is legible on any subject: the image is shown in gray, so no colour of the subject can be
mistaken for the colormap (viridis: dark blue at p = 0 to yellow at p = 1, perceptually uniform, no red),
and the mask's contour is a white line with a black edge, visible on light and dark regions alike.
"""

from __future__ import annotations

import io

import cv2
import numpy as np

STATE_DIR = ".deal"  # the run's own state under the output folder (records, thumbnails, lock, views)
OUTPUT_KINDS = ("heatmap", "mask", "overlay", "npz", "json")
DEFAULT_SAVE = ("heatmap", "mask", "overlay", "json")
SUFFIXES = {
    "heatmap": ".heatmap.png",
    "mask": ".mask.png",
    "overlay": ".overlay.jpg",
    "npz": ".npz",
    "json": ".json",
}
OVERLAY_ALPHA = 0.75  # the overlay's colormap opacity at p = 1 (over the gray image)
COLORMAP = "viridis"
# viridis as 256 RGB entries (OpenCV's table, BGR -> RGB); index = round(255 * p).
_COLORMAP_LUT = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], cv2.COLORMAP_VIRIDIS)[
    :, 0, ::-1
].copy()
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


VIEW_KIND_PREFIX = "view-"  # a view's map is output kind "view-<view>" in a record's outputs


def view_kind(view: str) -> str:
    """The output kind of view ``view``'s map ("view-ela")."""
    return VIEW_KIND_PREFIX + view


def view_output_name(name: str, view: str) -> str:
    """The file of view ``view``'s map of input ``name``: ``<name>.view-<view>.png``."""
    return f"{name}.{view_kind(view)}.png"


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


def colormap_lut() -> np.ndarray:
    """The colormap as a 256x3 uint8 RGB table (entry i is the colour of p = i / 255)."""
    return _COLORMAP_LUT.copy()


def heatmap_rgb(heatmap: np.ndarray) -> np.ndarray:
    """HxW float32 in [0, 1] -> HxWx3 uint8: the heatmap in the colormap (viridis)."""
    return _COLORMAP_LUT[heatmap_u8(heatmap)]


def contour_thickness(height: int, width: int) -> int:
    """Line width of the mask contour: 1 px up to 400 px images, growing with the image."""
    return max(1, round(max(height, width) / 400))


def draw_contour(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Draws the outline of `mask` (HxW bool/0-1) on `rgb` in place: white on a black edge. Returns rgb."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    if contours:
        t = contour_thickness(*mask.shape[:2])
        cv2.drawContours(rgb, contours, -1, (0, 0, 0), t + 2, lineType=cv2.LINE_8)
        cv2.drawContours(rgb, contours, -1, (255, 255, 255), t, lineType=cv2.LINE_8)
    return rgb


def contour_rgb(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The image (unchanged colours) with the mask's contour drawn on it."""
    return draw_contour(image.copy(), mask)


def overlay_rgb(
    image: np.ndarray, heatmap: np.ndarray, mask: np.ndarray | None = None, alpha: float = OVERLAY_ALPHA
) -> np.ndarray:
    """The image in gray, blended towards the colormap by alpha * p per pixel, plus the mask's contour.

    Args:
        image: HxWx3 uint8. heatmap: HxW float in [0, 1]. mask: HxW bool (None: no contour).

    Returns:
        HxWx3 uint8.
    """
    out = np.empty_like(image)
    for y in range(0, image.shape[0], _ROWS_PER_CHUNK):
        p = heatmap[y : y + _ROWS_PER_CHUNK]
        a = (alpha * np.clip(p, 0.0, 1.0))[:, :, None].astype(np.float32)
        gray = cv2.cvtColor(image[y : y + _ROWS_PER_CHUNK], cv2.COLOR_RGB2GRAY)[:, :, None].astype(np.float32)
        colour = _COLORMAP_LUT[heatmap_u8(p)].astype(np.float32)
        out[y : y + _ROWS_PER_CHUNK] = np.rint(gray * (1.0 - a) + colour * a).astype(np.uint8)
    if mask is not None:
        draw_contour(out, mask)
    return out


def overlay_jpg(image: np.ndarray, heatmap: np.ndarray, mask: np.ndarray | None = None) -> bytes:
    return _jpeg(overlay_rgb(image, heatmap, mask), OVERLAY_QUALITY)


def jpeg_bytes(rgb: np.ndarray, quality: int = OVERLAY_QUALITY) -> bytes:
    """HxWx3 uint8 RGB -> JPEG bytes (deterministic)."""
    return _jpeg(rgb, quality)


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
