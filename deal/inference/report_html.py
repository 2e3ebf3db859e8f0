"""One self-contained HTML report of a run: thumbnails with overlays, scores, a sortable table, settings.

Everything is inline (base64 JPEG thumbnails, CSS, a few lines of JS), so the file opens from disk with
no network. Its bytes depend only on the results (no dates, no timings). For large runs it lists the
`max_rows` highest-scoring images (thumbnails for the first `max_thumbnails`) and every failure up to
`max_failures`; results.csv holds everything.
"""

from __future__ import annotations

import base64
import heapq
import html
from collections.abc import Iterable
from pathlib import Path
from typing import Any

MAX_ROWS = 2000
MAX_THUMBNAILS = 200
MAX_FAILURES = 1000

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:16px;color:#222;background:#fff}
h1{font-size:20px;margin:0 0 4px}
p.summary{margin:0 0 12px;color:#444}
table{border-collapse:collapse;font-size:13px}
th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:middle}
th{cursor:pointer;user-select:none;background:#f3f3f3;position:sticky;top:0}
th.sorted-desc::after{content:" \\25BC"}th.sorted-asc::after{content:" \\25B2"}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.thumb img{display:block;max-width:240px;max-height:160px}
.edited{color:#b00;font-weight:600}.authentic{color:#333}
.error{color:#b00}
dl.settings{display:grid;grid-template-columns:max-content auto;gap:2px 12px;font-size:13px}
dl.settings dt{color:#666}dl.settings dd{margin:0;font-family:ui-monospace,monospace;word-break:break-all}
"""

# Click a header to sort by it (numbers by data-v); the table starts sorted by score, highest first.
_JS = """
document.querySelectorAll('table.sortable').forEach(function(table){
  var ths=table.tHead.rows[0].cells;
  Array.prototype.forEach.call(ths,function(th,col){
    th.addEventListener('click',function(){
      var desc=!th.classList.contains('sorted-desc');
      Array.prototype.forEach.call(ths,function(h){h.classList.remove('sorted-desc','sorted-asc');});
      th.classList.add(desc?'sorted-desc':'sorted-asc');
      var rows=Array.prototype.slice.call(table.tBodies[0].rows);
      var num=th.dataset.type==='num';
      rows.sort(function(a,b){
        var x=a.cells[col].dataset.v, y=b.cells[col].dataset.v;
        var c=num?(parseFloat(x)-parseFloat(y)):x.localeCompare(y);
        return desc?-c:c;
      });
      rows.forEach(function(r){table.tBodies[0].appendChild(r);});
    });
  });
});
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _thumb_cell(thumb: bytes | None) -> str:
    if not thumb:
        return '<td class="thumb" data-v="">&ndash;</td>'
    data = base64.b64encode(thumb).decode("ascii")
    return f'<td class="thumb" data-v=""><img alt="overlay" src="data:image/jpeg;base64,{data}"></td>'


def render_report(
    entries: Iterable[tuple[int, dict[str, Any], Path | None]],
    *,
    settings: dict[str, Any],
    title: str = "deal detect report",
    max_rows: int = MAX_ROWS,
    max_thumbnails: int = MAX_THUMBNAILS,
    max_failures: int = MAX_FAILURES,
) -> str:
    """The report's HTML.

    Args:
        entries: (input index, record, thumbnail JPEG path or None) for every input, streamed.
        settings: the run's settings, shown as a name/value list.
    """
    # A min-heap of the max_rows highest (score, -index): equal scores keep input order, and the pair is
    # unique, so records are never compared.
    top: list[tuple[float, int, dict[str, Any], Path | None]] = []
    failures: list[dict[str, Any]] = []
    n = n_failed = n_edited = 0
    for index, record, thumb in entries:
        n += 1
        if record.get("error") is not None:
            n_failed += 1
            if len(failures) < max_failures:
                failures.append(record)
            continue
        n_edited += record.get("verdict") == "edited"
        item = (float(record.get("score") or 0.0), -index, record, thumb)
        if len(top) < max_rows:
            heapq.heappush(top, item)
        else:
            heapq.heappushpop(top, item)
    ranked = sorted(top, key=lambda t: (t[0], t[1]), reverse=True)
    rows = []
    for rank, (score, _, record, thumb) in enumerate(ranked):
        data = thumb.read_bytes() if thumb is not None and rank < max_thumbnails and thumb.is_file() else None
        verdict = record.get("verdict") or ""
        frac = float(record.get("edited_fraction") or 0.0)
        rows.append(
            "<tr>"
            + _thumb_cell(data)
            + f'<td data-v="{_e(record.get("path"))}">{_e(record.get("path"))}</td>'
            + f'<td class="num" data-v="{score!r}">{score:.3f}</td>'
            + f'<td class="{_e(verdict)}" data-v="{_e(verdict)}">{_e(verdict)}</td>'
            + f'<td class="num" data-v="{frac!r}">{100 * frac:.1f}%</td>'
            + f'<td class="num" data-v="{int(record.get("n_regions") or 0)}">{int(record.get("n_regions") or 0)}</td>'
            + f'<td data-v="{_e(record.get("width"))}x{_e(record.get("height"))}">'
            + f"{_e(record.get('width'))}&times;{_e(record.get('height'))}</td>"
            + f'<td data-v="{_e(record.get("inference"))}">{_e(record.get("inference"))}</td>'
            + "</tr>"
        )
    shown = (
        f" (the {len(rows)} highest scores are listed; results.csv has all)"
        if len(rows) < n - n_failed
        else ""
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="summary">{n} images: {n_edited} edited, {n - n_failed - n_edited} authentic, '
        f"{n_failed} failed{_e(shown)}. Click a column header to sort.</p>",
        '<table class="sortable" id="results"><thead><tr>',
        '<th data-type="text">overlay</th><th data-type="text">file</th>',
        '<th data-type="num" class="sorted-desc">score</th><th data-type="text">verdict</th>',
        '<th data-type="num">edited area</th><th data-type="num">regions</th>',
        '<th data-type="text">size</th><th data-type="text">inference</th>',
        "</tr></thead><tbody>",
        *rows,
        "</tbody></table>",
    ]
    if failures:
        parts.append(
            f"<h2>Failed ({n_failed})</h2><table><thead><tr><th>file</th><th>problem</th></tr></thead><tbody>"
        )
        parts += [
            f'<tr><td>{_e(r.get("path"))}</td><td class="error">{_e(r.get("error"))}</td></tr>'
            for r in failures
        ]
        parts.append("</tbody></table>")
    parts.append('<h2>Settings</h2><dl class="settings">')
    parts += [f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in settings.items()]
    parts.append(f"</dl><script>{_JS}</script></body></html>\n")
    return "\n".join(parts)


def write_report(
    path: Path, entries: Iterable[tuple[int, dict[str, Any], Path | None]], **kwargs: Any
) -> Path:
    """Renders the report (see render_report) and writes it atomically to `path`."""
    from deal.fileio import atomic_write_text

    atomic_write_text(path, render_report(entries, **kwargs))
    return path
