"""Short forms of a provenance record: the C2PA badge of the report, the flags beside it, the badge in plain
words, and the flat columns of results.csv."""

from __future__ import annotations

from typing import Any

CSV_COLUMNS = (
    "c2pa",
    "c2pa_signer",
    "c2pa_generative_ai",
    "generator_traces",
    "editing_software",
    "format_mismatch",
    "jpeg_quality",
    "double_jpeg",
    "exif_thumbnail_disagrees",
    "degradation",
)


def badge(provenance: dict[str, Any] | None) -> tuple[str, str]:
    """(state key, label) of the C2PA badge: trusted, untrusted (valid, signer not trusted), invalid,
    unreadable (a manifest is there but cannot be read), absent, unchecked."""
    c2pa = (provenance or {}).get("c2pa") or {}
    state = c2pa.get("state")
    if state == "valid":
        if c2pa.get("trusted"):
            return "trusted", "C2PA valid"
        return "untrusted", "C2PA valid, signer not trusted"
    if state == "invalid":
        return "invalid", "C2PA invalid"
    if state == "unreadable":
        return "unreadable", "C2PA present, unreadable"
    if state == "absent":
        return "absent", "no C2PA"
    return "unchecked", "C2PA not checked"


# One line under the badge, in plain words, for each C2PA state (badge).
MEANS = {
    "trusted": "signed, unchanged since, by a signer on your trust list",
    "untrusted": "signed and unchanged since, but the signer is not on your trust list",
    "invalid": "the file changed after it was signed, or the manifest is damaged",
    "unreadable": "the file holds Content Credentials that cannot be read: damaged or altered, or kept on a "
    "server and not fetched",
    "absent": "no Content Credentials: the provenance is unknown (not a sign of editing)",
    "unchecked": "Content Credentials were not read for this file",
}


def flags(provenance: dict[str, Any] | None) -> list[str]:
    """Short flags beside the badge: what in the provenance deserves a look."""
    p = provenance or {}
    out = []
    if (p.get("c2pa") or {}).get("generative_ai"):
        out.append("AI declared")
    if p.get("generator_traces"):
        out.append("generator trace")
    meta = p.get("metadata") or {}
    if meta.get("editing_software"):
        out.append("editing software")
    if meta.get("extension_matches") is False:
        out.append("format mismatch")
    if ((p.get("jpeg") or {}).get("double_compression") or {}).get("indicated"):
        out.append("double JPEG")
    if (p.get("exif_thumbnail") or {}).get("disagrees"):
        out.append("thumbnail differs")
    if (p.get("degradation") or {}).get("notes"):
        out.append("degraded")
    return out


def jpeg_quality_text(jpeg: dict[str, Any] | None) -> str:
    """The JPEG quality in words, for the CSV and the report: the number for IJG tables (exact); for other
    tables, that they are non-standard, the closest IJG quality and how far (deal.provenance.jpeg); "" when
    there is none."""
    if not jpeg or jpeg.get("quality") is None:
        return ""
    if jpeg.get("quality_exact"):
        return str(jpeg["quality"])
    distance = jpeg.get("quality_distance")
    far = f", mean step difference {distance:g}" if distance is not None else ""
    return f"non-standard tables (closest IJG quality {jpeg['quality']}{far})"


def csv_fields(provenance: dict[str, Any] | None) -> dict[str, Any]:
    """The CSV_COLUMNS of one record ("" where unknown)."""
    p = provenance or {}
    c2pa = p.get("c2pa") or {}
    jpeg = p.get("jpeg") or {}
    thumb = p.get("exif_thumbnail") or {}
    gen_ai = c2pa.get("generative_ai")
    return {
        "c2pa": badge(p)[1] if provenance else "",
        "c2pa_signer": c2pa.get("signer") or "",
        "c2pa_generative_ai": "" if gen_ai is None else ("yes" if gen_ai else "no"),
        "generator_traces": "; ".join(
            f"{t['tool']} ({t['source']})" for t in p.get("generator_traces") or []
        ),
        "editing_software": (p.get("metadata") or {}).get("editing_software") or "",
        "format_mismatch": {True: "no", False: "yes"}.get((p.get("metadata") or {}).get("extension_matches"), ""),
        "jpeg_quality": jpeg_quality_text(jpeg),
        "double_jpeg": {True: "indicated", False: "not indicated"}.get(
            (jpeg.get("double_compression") or {}).get("indicated"), ""
        ),
        "exif_thumbnail_disagrees": {True: "yes", False: "no"}.get(thumb.get("disagrees"), ""),
        "degradation": "; ".join((p.get("degradation") or {}).get("notes") or []),
    }
