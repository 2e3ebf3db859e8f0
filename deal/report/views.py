"""The HTML report's per-image views: image, heatmap, mask contour and overlay, as files it links to.

A view is four JPEG panels under ``<out>/.deal/report/`` (inside the run's output tree, linked by relative
paths, so the report opens from disk with no network): the image as displayed, the heatmap in the
colormap (viridis), the image with the mask's contour, and the overlay (deal.report.outputs). They are
made when the report is written, for the rows that get a view (the highest scores, at most
html.MAX_VIEWS), from the input decoded again the way detect decoded it and the run's saved maps
(``<name>.npz`` or ``<name>.heatmap.png``; ``<name>.mask.png`` or the heatmap above the record's
threshold). Images larger than VIEW_SIDE pixels on their longest side are shown downscaled (area); the
view links the full-resolution outputs. The panels' bytes depend only on the inputs and maps.

With ``deal detect --views``, a view also has layers: the model's overlay and each classic view's map drawn
the same way over the image (``<name>.layer-<view>.jpg``), which the report switches between.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from deal.fileio import atomic_write_bytes
from deal.imageio import DEFAULT_MAX_PIXELS, ImageLoadError, load_image_file
from deal.report.outputs import (
    STATE_DIR,
    SUFFIXES,
    contour_rgb,
    heatmap_rgb,
    jpeg_bytes,
    overlay_rgb,
    view_kind,
)

VIEW_DIR = f"{STATE_DIR}/report"  # relative to the output folder
VIEW_SIDE = 1024  # longest side of a panel (4 side by side fit a 4K screen); larger images are downscaled
VIEW_QUALITY = 90


@dataclass
class Layer:
    """One layer of a view: the model's map (name MODEL_LAYER) or a classic view's (deal detect --views),
    over the image in gray. file: its JPEG relative to the output folder, None when it has no map (note
    says why); score: its image-level score, or None."""

    name: str
    file: str | None
    note: str | None = None
    score: float | None = None


MODEL_LAYER = "model"


@dataclass
class View:
    """One row's view. files: panel -> path relative to the output folder (posix); absent panels missing.

    width, height: the panels' size in pixels; scale: panel size / image size; notes: what is missing or
    changed, in sentences; layers: the model's map and each classic view's, to switch between over the
    image (empty when the run computed no views).
    """

    files: dict[str, str] = field(default_factory=dict)
    width: int = 0
    height: int = 0
    scale: float = 1.0
    notes: list[str] = field(default_factory=list)
    layers: list[Layer] = field(default_factory=list)


def output_stem(record: dict[str, Any]) -> str | None:
    """The input's name relative to the output folder (``sub/photo.jpg``), from the record's outputs."""
    for kind, rel in (record.get("outputs") or {}).items():
        suffix = SUFFIXES.get(kind)
        if suffix and isinstance(rel, str) and rel.endswith(suffix):
            return rel[: -len(suffix)]
    return None


def _read_heatmap(out_dir: Path, outputs: dict[str, str]) -> tuple[np.ndarray | None, str | None]:
    """(HxW float32 in [0, 1], where from) from the npz (exact) or the heatmap PNG (8-bit), or (None, None)."""
    if "npz" in outputs and (out_dir / outputs["npz"]).is_file():
        with np.load(out_dir / outputs["npz"]) as z:
            return z["map"].astype(np.float32), outputs["npz"]
    if "heatmap" in outputs and (out_dir / outputs["heatmap"]).is_file():
        gray = cv2.imread(str(out_dir / outputs["heatmap"]), cv2.IMREAD_GRAYSCALE)
        if gray is not None:
            return gray.astype(np.float32) / 255.0, outputs["heatmap"]
    return None, None


def _resize(a: np.ndarray, size: tuple[int, int], nearest: bool = False) -> np.ndarray:
    return cv2.resize(a, size, interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_AREA)


def make_view(out_dir: Path, record: dict[str, Any], name: str) -> View:
    """Writes the view panels of one successful record as ``<out>/.deal/report/<name>.<panel>.jpg``.

    Never raises for a missing or changed input or map: the view then has fewer panels and says why.
    """
    view = View()
    width, height = int(record.get("width") or 0), int(record.get("height") or 0)
    try:
        loaded = load_image_file(record["path"], max_pixels=max(DEFAULT_MAX_PIXELS, width * height))
    except (ImageLoadError, KeyError) as err:
        view.notes.append(f"The input cannot be shown: {err}.")
        return view
    image = loaded.array
    h, w = image.shape[:2]
    if record.get("sha256") and loaded.sha256 != record["sha256"]:
        view.notes.append("The input file has changed since it was analysed: the maps are not shown over it.")
        heatmap = None
    elif (h, w) != (height, width):
        view.notes.append(f"The input now decodes to {w}x{h}, not {width}x{height}: the maps are not shown.")
        heatmap = None
    else:
        outputs = record.get("outputs") or {}
        heatmap, source = _read_heatmap(out_dir, outputs)
        if heatmap is None:
            view.notes.append("No heatmap was saved (--save heatmap or npz): only the image is shown.")
        elif heatmap.shape != (h, w):
            view.notes.append(f"{source} is {heatmap.shape[1]}x{heatmap.shape[0]}, not {w}x{h}: not shown.")
            heatmap = None
    mask = None
    if heatmap is not None:
        outputs = record.get("outputs") or {}
        mask_file = out_dir / outputs["mask"] if "mask" in outputs else None
        gray = cv2.imread(str(mask_file), cv2.IMREAD_GRAYSCALE) if mask_file and mask_file.is_file() else None
        if gray is not None and gray.shape == (h, w):
            mask = gray > 127
        else:
            mask = heatmap > float(record.get("threshold") if record.get("threshold") is not None else 0.5)
    scale = min(1.0, VIEW_SIDE / max(h, w))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        image = _resize(image, size)
        if heatmap is not None and mask is not None:
            heatmap = _resize(heatmap, size)
            mask = _resize(mask.astype(np.uint8), size, nearest=True).astype(bool)
        view.notes.append(
            f"Shown at {size[0]}x{size[1]} (the image is {w}x{h}); the links open the full size."
        )
    view.height, view.width = image.shape[:2]
    view.scale = scale
    panels = {"image": image}
    if heatmap is not None and mask is not None:
        panels["heatmap"] = heatmap_rgb(heatmap)
        panels["contour"] = contour_rgb(image, mask)
        panels["overlay"] = overlay_rgb(image, heatmap, mask)
    for panel, rgb in panels.items():
        rel = f"{VIEW_DIR}/{name}.{panel}.jpg"
        atomic_write_bytes(out_dir / rel, jpeg_bytes(rgb, VIEW_QUALITY))
        view.files[panel] = rel
    if heatmap is not None and record.get("views"):
        view.layers = _layers(out_dir, record, name, image, (h, w), view.files.get("overlay"))
    return view


def _layers(
    out_dir: Path, record: dict[str, Any], name: str, image: np.ndarray, hw: tuple[int, int], overlay: str | None
) -> list[Layer]:
    """The model's layer (its overlay panel) and one per view of the record: its saved map
    (``<name>.view-<view>.png``) over the shown image, as the overlay draws the heatmap (no contour)."""
    layers = [Layer(MODEL_LAYER, overlay, None, record.get("score"))]
    outputs = record.get("outputs") or {}
    size = (image.shape[1], image.shape[0])
    for view_name, found in record["views"].items():
        note, score, rel = found.get("note"), found.get("score"), outputs.get(view_kind(view_name))
        if rel is None:
            layers.append(Layer(view_name, None, note or "no map", score))
            continue
        gray = cv2.imread(str(out_dir / rel), cv2.IMREAD_GRAYSCALE)
        if gray is None or gray.shape != hw:
            layers.append(Layer(view_name, None, f"{rel} is missing or not at the image's size", score))
            continue
        vmap = gray.astype(np.float32) / 255.0
        if size != (hw[1], hw[0]):
            vmap = _resize(vmap, size)
        panel = f"{VIEW_DIR}/{name}.layer-{view_name}.jpg"
        atomic_write_bytes(out_dir / panel, jpeg_bytes(overlay_rgb(image, vmap), VIEW_QUALITY))
        layers.append(Layer(view_name, panel, note, score))
    return layers


def remove_stale_views(out_dir: Path, keep: set[str]) -> int:
    """Deletes view panels under <out>/.deal/report/ that are not in `keep` (relative paths). Returns how many."""
    root = out_dir / VIEW_DIR
    n = 0
    if root.is_dir():
        for p in sorted(root.rglob("*.jpg")):
            if p.relative_to(out_dir).as_posix() not in keep:
                p.unlink(missing_ok=True)
                n += 1
    return n
