"""The provenance of a record as HTML: the report's C2PA badge cell, the provenance panel of a row's view
with its "how to read this" card, and the CSS they need (with the report's print rules).

Self-contained (the standard library's html escaping), so that any report layout can place these pieces.
"""

from __future__ import annotations

import html
from typing import Any

from deal.provenance.fields import HOW_TO_READ
from deal.provenance.summary import badge

CSS = """
.prov{display:inline-block;padding:1px 7px;border-radius:9px;font-size:12px;font-weight:600;white-space:nowrap}
.prov-trusted{background:#1b5e20;color:#fff}
.prov-untrusted{background:#e3f2fd;color:#0d47a1;border:1px solid #0d47a1}
.prov-invalid{background:#b71c1c;color:#fff}
.prov-absent{background:#eee;color:#555;border:1px solid #bbb;font-weight:400}
.prov-unchecked{background:#fff;color:#777;border:1px dashed #aaa;font-weight:400}
.flag{display:inline-block;margin-left:4px;padding:0 5px;border-radius:3px;font-size:11px;background:#fff3c4;
 color:#4a3a00;border:1px solid #c9a400}
section.provenance{display:flex;flex-wrap:wrap;gap:12px 28px;margin:12px 0 0;font-size:12px;color:#ddd}
section.provenance h3{font-size:13px;margin:0 0 6px;color:#fff}
section.provenance dl{display:grid;grid-template-columns:max-content minmax(0,560px);gap:2px 10px;margin:0}
section.provenance dt{color:#aaa}section.provenance dd{margin:0;word-break:break-word}
section.provenance .degraded{color:#ffd54f}
aside.howto{max-width:420px;background:#2b2b2b;border-left:3px solid #9cf;padding:6px 12px;color:#ddd}
aside.howto h3{margin:0 0 4px}aside.howto ul{margin:0;padding-left:18px}aside.howto li{margin:2px 0}
@media print{
 @page{margin:12mm}
 body{margin:0;font-size:11px}
 th{position:static;background:#eee}
 tr{break-inside:avoid}
 td.thumb img{max-width:140px;max-height:100px}
 #results tbody tr:hover{background:none}
 button,.view .head span:last-child{display:none}
 .view{background:#fff;color:#000;overflow:visible}
 .view figcaption,.view .notes,.view .links,.view .rule,section.provenance{color:#000}
 section.provenance h3{color:#000}section.provenance dt{color:#444}section.provenance .degraded{color:#7a5c00}
 aside.howto{background:#f4f4f4;color:#000;border-left-color:#555}
 .v,.prov,.flag{-webkit-print-color-adjust:exact;print-color-adjust:exact}
 a{color:inherit;text-decoration:none}
}
"""


# One line under the badge, in plain words, for each C2PA state (deal.provenance.summary.badge).
_MEANS = {
    "trusted": "signed, unchanged since, by a signer on your trust list",
    "untrusted": "signed and unchanged since, but the signer is not on your trust list",
    "invalid": "the file changed after it was signed, or the manifest is damaged",
    "absent": "no Content Credentials: the provenance is unknown (not a sign of editing)",
    "unchecked": "Content Credentials were not read for this file",
}


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def flags(provenance: dict[str, Any] | None) -> list[str]:
    """Short flags beside the badge: what in the provenance deserves a look."""
    p = provenance or {}
    out = []
    if (p.get("c2pa") or {}).get("generative_ai"):
        out.append("AI declared")
    if p.get("generator_traces"):
        out.append("generator trace")
    if ((p.get("jpeg") or {}).get("double_compression") or {}).get("indicated"):
        out.append("double JPEG")
    if (p.get("exif_thumbnail") or {}).get("disagrees"):
        out.append("thumbnail differs")
    if (p.get("degradation") or {}).get("notes"):
        out.append("degraded")
    return out


def badge_html(provenance: dict[str, Any] | None) -> str:
    state, label = badge(provenance)
    return f'<span class="prov prov-{state}">{_e(label)}</span>'


def cell(record: dict[str, Any]) -> str:
    """The report table's provenance cell (sortable by its state)."""
    p = record.get("provenance")
    if p is None:
        return '<td class="provcell" data-v="">&ndash;</td>'
    state, _ = badge(p)
    marks = "".join(f'<span class="flag">{_e(f)}</span>' for f in flags(p))
    return f'<td class="provcell" data-v="{_e(state)}">{badge_html(p)}{marks}</td>'


def _row(label: str, value: Any, cls: str = "") -> str:
    if value in (None, "", []):
        return ""
    klass = f' class="{cls}"' if cls else ""
    return f"<dt>{_e(label)}</dt><dd{klass}>{_e(value)}</dd>"


def _yes_no(value: bool | None, yes: str, no: str, unknown: str = "cannot tell") -> str:
    return unknown if value is None else (yes if value else no)


def panel(record: dict[str, Any]) -> str:
    """The provenance panel of a row's view, with the "how to read this" card."""
    p = record.get("provenance")
    card = (
        '<aside class="howto"><h3>How to read this</h3><ul>'
        + "".join(f"<li>{_e(line)}</li>" for line in HOW_TO_READ)
        + "</ul></aside>"
    )
    if p is None:
        return f'<section class="provenance"><div><h3>Provenance</h3><p>Not read for this file.</p></div>{card}</section>'
    c2pa = p.get("c2pa") or {}
    meta = p.get("metadata") or {}
    jpeg = p.get("jpeg")
    thumb = p.get("exif_thumbnail") or {}
    rows = [f"<dt>C2PA</dt><dd>{badge_html(p)}</dd>"]
    rows.append(_row("means", _MEANS.get(badge(p)[0])))
    rows.append(_row("why", c2pa.get("reason")))
    rows.append(_row("signed by", c2pa.get("signer")))
    rows.append(_row("claim generator", c2pa.get("claim_generator")))
    rows.append(_row("actions", ", ".join(c2pa.get("actions") or [])))
    rows.append(
        _row("source type", ", ".join(t.rsplit("/", 1)[-1] for t in c2pa.get("digital_source_types") or []))
    )
    if c2pa.get("state") == "valid":
        rows.append(_row("generative AI", "declared" if c2pa.get("generative_ai") else "not declared"))
    rows.append(_row("format", meta.get("format")))
    camera = " ".join(v for v in (meta.get("make"), meta.get("model")) if v)
    rows.append(_row("camera (EXIF)", camera))
    rows.append(_row("software", meta.get("software") or meta.get("creator_tool")))
    rows.append(_row("taken", meta.get("datetime_original")))
    rows.append(_row("modified", meta.get("datetime")))
    if meta:
        rows.append(_row("GPS", "present" if meta.get("gps") else "none"))
        rows.append(
            _row(
                "EXIF / XMP", f"{'yes' if meta.get('exif') else 'no'} / {'yes' if meta.get('xmp') else 'no'}"
            )
        )
    for trace in p.get("generator_traces") or []:
        rows.append(_row("generator trace", f"{trace['tool']} ({trace['source']}): {trace['excerpt']}"))
    if not p.get("generator_traces"):
        rows.append(_row("generator traces", "none found"))
    if jpeg:
        how = "exact" if jpeg.get("quality_exact") else "estimated, non-standard tables"
        rows.append(_row("JPEG quality", f"{jpeg.get('quality')} ({how}), {jpeg.get('subsampling')}"))
        dc = jpeg.get("double_compression") or {}
        text = _yes_no(dc.get("indicated"), "indicated", "not indicated")
        score = f", score {dc['score']}" if dc.get("score") is not None else ""
        rows.append(_row("double JPEG", f"{text}{score} (heuristic)"))
    if thumb.get("present"):
        text = _yes_no(thumb.get("disagrees"), "differs from the image", "matches the image")
        rows.append(_row("EXIF thumbnail", f"{text} (mean difference {thumb.get('difference')})"))
    for note in (p.get("degradation") or {}).get("notes") or []:
        rows.append(_row("degradation", note, "degraded"))
    for note in p.get("notes") or []:
        rows.append(_row("reading", note))
    return (
        '<section class="provenance"><div><h3>Provenance</h3><dl>'
        + "".join(rows)
        + f"</dl></div>{card}</section>"
    )


def case_lines(case: dict[str, Any] | None) -> dict[str, str]:
    """The case, examiner and note of a run as report settings (only those given)."""
    names = {"case_id": "case", "examiner": "examiner", "note": "note"}
    return {names[k]: str(v) for k, v in (case or {}).items() if k in names and v}
