"""The EXIF thumbnail (a small JPEG inside the EXIF block, IFD1): present or not, and whether it shows the
same picture as the image. Editors that change the pixels but copy the EXIF block leave the camera's
original thumbnail behind; a disagreement is a classic sign of editing, its absence proves nothing."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import ExifTags, Image

from deal.provenance.limits import MAX_THUMBNAIL_BYTES, MAX_THUMBNAIL_PIXELS

# Mean absolute difference (0-255 gray levels) between the thumbnail and the image resized to it above
# which they are said to disagree; a re-encoded thumbnail of the same picture stays well below it.
DISAGREEMENT_THRESHOLD = 20.0
_ASPECT_TOLERANCE = 0.1  # relative difference of aspect ratios above which the shapes disagree
_OFFSET, _LENGTH = 0x0201, 0x0202  # JPEGInterchangeFormat, JPEGInterchangeFormatLength


def read_thumbnail(img: Image.Image, notes: list[str]) -> dict[str, Any]:
    """{"present": bool, "width", "height", "difference": mean |thumb - image| or None, "disagrees": bool | None}."""
    section: dict[str, Any] = {
        "present": False,
        "width": None,
        "height": None,
        "difference": None,
        "disagrees": None,
    }
    raw = img.info.get("exif")
    if not isinstance(raw, bytes):
        return section
    tiff = raw[6:] if raw.startswith(b"Exif\x00\x00") else raw
    try:
        exif = Image.Exif()
        exif.load(raw)
        ifd1 = exif.get_ifd(ExifTags.IFD.IFD1)
    except Exception:  # noqa: BLE001 - the EXIF note is written by deal.provenance.exif
        return section
    offset, length = ifd1.get(_OFFSET), ifd1.get(_LENGTH)
    if not isinstance(offset, int) or not isinstance(length, int) or length <= 0:
        return section
    section["present"] = True
    if length > MAX_THUMBNAIL_BYTES or offset + length > len(tiff):
        notes.append(
            f"EXIF thumbnail: declared {length:,} bytes at offset {offset:,}, outside the block or too large"
        )
        return section
    try:
        thumb = Image.open(io.BytesIO(tiff[offset : offset + length]))
        if thumb.width * thumb.height > MAX_THUMBNAIL_PIXELS:
            notes.append(f"EXIF thumbnail: {thumb.width}x{thumb.height} is too large to compare")
            return section
        thumb = thumb.convert("L")
    except Exception as err:  # noqa: BLE001
        notes.append(f"EXIF thumbnail: cannot be decoded ({type(err).__name__})")
        return section
    section.update(width=thumb.width, height=thumb.height)
    image_aspect, thumb_aspect = img.width / img.height, thumb.width / thumb.height
    main = img.convert("L").resize(thumb.size, Image.Resampling.BOX)
    diff = float(np.abs(np.asarray(main, np.float64) - np.asarray(thumb, np.float64)).mean())
    section["difference"] = round(diff, 2)
    shape_differs = abs(thumb_aspect - image_aspect) / image_aspect > _ASPECT_TOLERANCE
    section["disagrees"] = bool(shape_differs or diff > DISAGREEMENT_THRESHOLD)
    return section
