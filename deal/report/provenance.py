"""What the report shows of a record's provenance (deal.provenance): the table's C2PA badge and flags, and
the rows of the provenance panel in each row's view. The markup is templates/provenance.html.j2."""

from __future__ import annotations

from typing import Any

from deal.provenance.summary import MEANS, badge, flags, jpeg_quality_text


def _yes_no(value: bool | None, yes: str, no: str, unknown: str = "cannot tell") -> str:
    return unknown if value is None else (yes if value else no)


def _rows(p: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(label, value, css class) of every panel row that has a value, in the panel's order."""
    c2pa = p.get("c2pa") or {}
    meta = p.get("metadata") or {}
    jpeg = p.get("jpeg")
    thumb = p.get("exif_thumbnail") or {}
    rows: list[tuple[str, Any, str]] = [
        ("means", MEANS.get(badge(p)[0]), ""),
        ("why", c2pa.get("reason"), ""),
        ("signed by", c2pa.get("signer"), ""),
        ("claim generator", c2pa.get("claim_generator"), ""),
        ("actions", ", ".join(c2pa.get("actions") or []), ""),
        ("source type", ", ".join(t.rsplit("/", 1)[-1] for t in c2pa.get("digital_source_types") or []), ""),
    ]
    if c2pa.get("state") == "valid":
        rows.append(("generative AI", "declared" if c2pa.get("generative_ai") else "not declared", ""))
    rows += [
        ("format", meta.get("format"), ""),
        ("camera (EXIF)", " ".join(v for v in (meta.get("make"), meta.get("model")) if v), ""),
        ("software", meta.get("software") or meta.get("creator_tool"), ""),
        ("taken", meta.get("datetime_original"), ""),
        ("modified", meta.get("datetime"), ""),
    ]
    if meta:
        rows.append(("GPS", "present" if meta.get("gps") else "none", ""))
        exif_xmp = f"{'yes' if meta.get('exif') else 'no'} / {'yes' if meta.get('xmp') else 'no'}"
        rows.append(("EXIF / XMP", exif_xmp, ""))
    for trace in p.get("generator_traces") or []:
        rows.append(("generator trace", f"{trace['tool']} ({trace['source']}): {trace['excerpt']}", ""))
    if not p.get("generator_traces"):
        rows.append(("generator traces", "none found", ""))
    if jpeg:
        quality = (jpeg_quality_text(jpeg) or "unknown") + (" (exact)" if jpeg.get("quality_exact") else "")
        rows.append(("JPEG quality", f"{quality}, {jpeg.get('subsampling')}", ""))
        dc = jpeg.get("double_compression") or {}
        score = f", score {dc['score']}" if dc.get("score") is not None else ""
        indicated = _yes_no(dc.get("indicated"), "indicated", "not indicated")
        rows.append(("double JPEG", f"{indicated}{score} (heuristic)", ""))
    if thumb.get("present"):
        text = _yes_no(thumb.get("disagrees"), "differs from the image", "matches the image")
        rows.append(("EXIF thumbnail", f"{text} (mean difference {thumb.get('difference')})", ""))
    rows += [("degradation", note, "degraded") for note in (p.get("degradation") or {}).get("notes") or []]
    rows += [("reading", note, "") for note in p.get("notes") or []]
    return [(label, str(value), cls) for label, value, cls in rows if value not in (None, "", [])]


def provenance_view(provenance: dict[str, Any] | None) -> dict[str, Any] | None:
    """What templates/provenance.html.j2 shows of a record's provenance (None: not read for this file):
    the badge's state and label, its flags, and the panel's rows."""
    if provenance is None:
        return None
    state, label = badge(provenance)
    return {"state": state, "label": label, "flags": flags(provenance), "rows": _rows(provenance)}
