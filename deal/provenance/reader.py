"""read_provenance: everything a file says about its origin, from its bytes, offline, never raising.

Each part (C2PA, EXIF/XMP/IPTC, PNG text, JPEG tables, EXIF thumbnail, degradation) runs on its own: a part
that fails on a malformed or hostile block adds a note and leaves its section empty; the others still run.
Nothing is fetched, executed or written. The result depends only on the bytes and the options, so two runs
over the same file record the same provenance (C2PA certificate validity is checked against the clock
when the manifest carries no timestamp: a certificate that expires between two runs changes the state).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from deal.provenance.c2pa_manifest import empty_c2pa, read_c2pa, sniff_format
from deal.provenance.degradation import SPECTRUM_CROP, degradation
from deal.provenance.exif import read_metadata
from deal.provenance.generators import known_ai_tool, metadata_traces, png_traces
from deal.provenance.jpeg import read_jpeg
from deal.provenance.options import ProvenanceOptions
from deal.provenance.png_text import pillow_readable, read_png_text
from deal.provenance.thumbnail import read_thumbnail

SECTIONS = ("c2pa", "metadata", "generator_traces", "jpeg", "exif_thumbnail", "degradation", "notes")
# Pixel checks are skipped above this many pixels (deal detect refuses such images by default anyway).
MAX_DECODE_PIXELS = 100_000_000


@dataclass
class OpenedImage:
    """A file opened once with Pillow (open_image), for the decoder and the provenance reader alike.

    image: the opened image (loaded by whoever decodes it first: the pixels are decoded once).
    notes: what was set aside for Pillow to open it (PNG text chunks over its limit), for the record.
    """

    image: Image.Image
    notes: list[str] = field(default_factory=list)


def open_image(data: bytes) -> OpenedImage:
    """Opens a file's bytes with Pillow (header only; load() decodes), setting aside the PNG text chunks
    Pillow refuses (deal.provenance.png_text.pillow_readable). Raises what Image.open raises."""
    readable, notes = pillow_readable(data)
    return OpenedImage(Image.open(io.BytesIO(readable)), notes)


def central_crop(img: Image.Image, side: int) -> Image.Image:
    """The central side x side (at most) region of an image, cropped before any conversion of the whole."""
    w, h = img.size
    cw, ch = min(w, side), min(h, side)
    left, top = (w - cw) // 2, (h - ch) // 2
    return img.crop((left, top, left + cw, top + ch))


def _failed(notes: list[str], part: str, err: BaseException) -> None:
    notes.append(f"{part}: not read ({type(err).__name__}: {str(err)[:160]})")


def read_provenance(
    data: bytes,
    options: ProvenanceOptions | None = None,
    *,
    opened: OpenedImage | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    """The provenance of one file's bytes: a dict with the keys of SECTIONS (see deal.provenance.fields).

    opened: the same bytes already opened (and decoded) by deal's image decoder, so that the pixels are
    decoded once; None opens them here. name: the file's name, checked against the format its bytes hold.
    """
    options = options or ProvenanceOptions()
    notes: list[str] = []
    out: dict[str, Any] = {
        "c2pa": empty_c2pa("unchecked"),
        "metadata": None,
        "generator_traces": [],
        "jpeg": None,
        "exif_thumbnail": None,
        "degradation": None,
        "notes": notes,
    }
    texts: dict[str, str] = {}
    try:
        texts, png_notes = read_png_text(data)
        notes.extend(png_notes)
        out["generator_traces"].extend(png_traces(texts))
    except Exception as err:  # noqa: BLE001
        _failed(notes, "PNG text", err)
    try:
        opened = opened or open_image(data)
        img = opened.image
        notes.extend(opened.notes)
    except Exception as err:  # noqa: BLE001 - not an image Pillow can open: only C2PA may still be read
        img = None
        _failed(notes, "image", err)
    try:
        out["c2pa"] = read_c2pa(data, img.format if img else sniff_format(data), options.trust_anchors)
        out["c2pa"]["trust_anchors_sha256"] = options.trust_anchors_sha256
    except Exception as err:  # noqa: BLE001
        _failed(notes, "C2PA", err)
    if img is None:
        return out
    try:
        out["metadata"], comment = read_metadata(img, texts, notes, name)
        out["generator_traces"].extend(metadata_traces(out["metadata"], comment))
    except Exception as err:  # noqa: BLE001
        _failed(notes, "metadata", err)
    generator = out["c2pa"].get("claim_generator")
    if known_ai_tool(generator):
        out["generator_traces"].append(
            {"source": "C2PA claim generator", "tool": known_ai_tool(generator), "excerpt": generator}
        )
    _read_pixel_sections(out, img, notes)
    return out


def _read_pixel_sections(out: dict[str, Any], img: Image.Image, notes: list[str]) -> None:
    """The sections read from the decoded pixels (JPEG tables and double compression, the EXIF thumbnail,
    degradation), each on its own: a failure is a note."""
    width, height = img.size
    pixels = None
    if width * height <= MAX_DECODE_PIXELS:
        try:
            img.load()  # nothing to do when the decoder has loaded it
            pixels = img
        except Exception as err:  # noqa: BLE001 - truncated pixel data: the header-only parts still stand
            _failed(notes, "pixels", err)
    else:
        notes.append(f"pixels: {width}x{height} is too large for the pixel checks")
    if pixels is not None:
        try:
            out["jpeg"] = read_jpeg(pixels)
        except Exception as err:  # noqa: BLE001
            _failed(notes, "JPEG", err)
        try:
            out["exif_thumbnail"] = read_thumbnail(pixels, notes)
        except Exception as err:  # noqa: BLE001
            _failed(notes, "EXIF thumbnail", err)
    try:
        gray = np.asarray(central_crop(pixels, SPECTRUM_CROP).convert("L")) if pixels is not None else None
        out["degradation"] = degradation(width, height, gray, out["jpeg"])
    except Exception as err:  # noqa: BLE001
        _failed(notes, "degradation", err)
