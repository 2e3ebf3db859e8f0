"""EXIF, XMP and IPTC: a short summary of what a file says about its origin (camera, software, dates, GPS,
orientation), read with Pillow. XMP is searched with bounded regular expressions, never parsed as XML
(no entity expansion, no external references)."""

from __future__ import annotations

import re
from pathlib import PurePath
from typing import Any

from PIL import ExifTags, Image

from deal.provenance.limits import MAX_XMP_BYTES

_MAX_VALUE_CHARS = 200
# Photo editors, matched as words in EXIF Software and XMP CreatorTool (any case): the file went through
# one. Generative-AI tools are deal.provenance.generators' traces, not here.
EDITING_APPLICATIONS = (
    "Photoshop", "Lightroom", "Camera Raw", "GIMP", "Affinity Photo", "Pixelmator", "Paint.NET",
    "PaintShop", "Capture One", "Snapseed", "Photopea", "Canva", "Krita", "Luminar", "darktable",
    "RawTherapee", "PhotoScape", "Picsart", "Facetune", "Fotor", "ACDSee", "DxO PhotoLab", "Photo Editor",
)  # fmt: skip
_EDITOR_PATTERN = re.compile(
    r"(?<![\w])(" + "|".join(re.escape(n) for n in EDITING_APPLICATIONS) + r")(?![\w])", re.I
)
# File name extensions -> the formats (Pillow's names) a file so named is expected to hold.
EXTENSION_FORMATS = {
    ".jpg": ("JPEG", "MPO"), ".jpeg": ("JPEG", "MPO"), ".jpe": ("JPEG", "MPO"), ".png": ("PNG",),
    ".webp": ("WEBP",), ".tif": ("TIFF",), ".tiff": ("TIFF",), ".bmp": ("BMP",), ".gif": ("GIF",),
}  # fmt: skip
_IFD0 = {"make": 0x010F, "model": 0x0110, "software": 0x0131, "datetime": 0x0132, "orientation": 0x0112}
_EXIF_IFD = {"datetime_original": 0x9003, "datetime_digitized": 0x9004}
_USER_COMMENT = 0x9286
_XMP_CREATOR_TOOL = re.compile(rb"CreatorTool(?:=\"([^\"]{0,300})\"|>([^<]{0,300})<)")
_XMP_SOURCE_TYPE = re.compile(
    rb"DigitalSourceType(?:=\"([^\"]{0,300})\"|>([^<]{0,300})<|[^>]{0,50}rdf:resource=\"([^\"]{0,300})\")"
)


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    text = str(value).replace("\x00", "").strip()
    return text[:_MAX_VALUE_CHARS] or None


def user_comment(raw: Any) -> str | None:
    """EXIF UserComment: an 8-byte character-code prefix ("ASCII\\0\\0\\0", "UNICODE\\0") then the text."""
    if isinstance(raw, str):
        return raw
    if not isinstance(raw, bytes) or not raw:
        return None
    head, body = raw[:8], raw[8:]
    if head.startswith(b"UNICODE"):
        enc = "utf-16-be" if body[:1] == b"\x00" else "utf-16-le"
        return body.decode(enc, errors="replace").strip("\x00")
    return body.decode("utf-8", errors="replace").strip("\x00")


def xmp_packet(img: Image.Image, png_texts: dict[str, str]) -> bytes | None:
    xmp = img.info.get("xmp") or png_texts.get("XML:com.adobe.xmp")
    if xmp is None and img.format == "TIFF":
        xmp = getattr(img, "tag_v2", {}).get(700)
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8", errors="replace")
    return xmp if isinstance(xmp, bytes) else None


def _xmp_values(pattern: re.Pattern[bytes], xmp: bytes) -> list[str]:
    out = []
    for m in pattern.finditer(xmp):
        value = next((g for g in m.groups() if g), None)
        if value:
            out.append(value.decode("utf-8", errors="replace").strip())
    return out


def editing_software(section: dict[str, Any]) -> str | None:
    """The EXIF Software or XMP CreatorTool value that names a photo editor (EDITING_APPLICATIONS), or None."""
    for key in ("software", "creator_tool"):
        value = section.get(key)
        if value and _EDITOR_PATTERN.search(value):
            return value
    return None


def extension_matches(name: str | None, image_format: str | None) -> bool | None:
    """Whether a file's name says the format its bytes hold (None: no name, or an extension not known)."""
    if not name or not image_format:
        return None
    expected = EXTENSION_FORMATS.get(PurePath(name).suffix.lower())
    return None if expected is None else image_format in expected


def read_metadata(
    img: Image.Image, png_texts: dict[str, str], notes: list[str], name: str | None = None
) -> tuple[dict[str, Any], str | None]:
    """(the metadata section, the EXIF UserComment text or None). Problems, and a name that says another
    format than the bytes hold (`name`: the file's name), are appended to `notes`."""
    matches = extension_matches(name, img.format)
    if matches is False:
        notes.append(
            f"format: the file is named {PurePath(name).suffix} but its bytes are {img.format} (renamed, or "
            "saved by a program that kept the old name)"
        )
    section: dict[str, Any] = {
        "format": img.format,
        "extension_matches": matches,
        "exif": False,
        **dict.fromkeys(_IFD0),
        **dict.fromkeys(_EXIF_IFD),
        "gps": False,
        "xmp": False,
        "creator_tool": None,
        "xmp_digital_source_types": [],
        "iptc": False,
        "iptc_byline": None,
        "iptc_credit": None,
        "editing_software": None,
    }
    comment = None
    try:
        exif = img.getexif()
        if len(exif):
            section["exif"] = True
            for key, tag in _IFD0.items():
                section[key] = _clean(exif.get(tag))
            if section["orientation"] is not None:
                try:
                    section["orientation"] = int(section["orientation"])
                except ValueError:
                    section["orientation"] = None
            sub = exif.get_ifd(ExifTags.IFD.Exif)
            for key, tag in _EXIF_IFD.items():
                section[key] = _clean(sub.get(tag))
            comment = user_comment(sub.get(_USER_COMMENT))
            section["gps"] = bool(exif.get_ifd(ExifTags.IFD.GPSInfo)) or ExifTags.IFD.GPSInfo in exif
    except Exception as err:  # noqa: BLE001 - a malformed EXIF block is a note
        notes.append(f"EXIF: malformed block, not fully read ({type(err).__name__}: {str(err)[:120]})")
    xmp = xmp_packet(img, png_texts)
    if xmp is not None:
        section["xmp"] = True
        if len(xmp) > MAX_XMP_BYTES:
            notes.append(
                f"XMP: packet of {len(xmp):,} bytes not searched (over {MAX_XMP_BYTES // 2**20} MiB)"
            )
        else:
            tools = _xmp_values(_XMP_CREATOR_TOOL, xmp)
            section["creator_tool"] = _clean(tools[0]) if tools else None
            section["xmp_digital_source_types"] = sorted(set(_xmp_values(_XMP_SOURCE_TYPE, xmp)))[:10]
    if img.format == "JPEG":
        try:
            from PIL import IptcImagePlugin

            iptc = IptcImagePlugin.getiptcinfo(img) or {}
        except Exception as err:  # noqa: BLE001
            notes.append(f"IPTC: malformed block, not read ({type(err).__name__})")
            iptc = {}
        if iptc:
            section["iptc"] = True
            section["iptc_byline"] = _clean(iptc.get((2, 80)))
            section["iptc_credit"] = _clean(iptc.get((2, 110)))
    section["editing_software"] = editing_software(section)
    return section, comment
