"""The HTML report of a run: a banner naming the detector, a legend, a sortable table, one view per row.

The table (thumbnails inline as base64 JPEG, CSS and a little JS inline) needs no other file. Clicking a
row (or Enter on it, or opening ``report.html#view=N`` for the N-th row) opens its view: the image, the
heatmap in viridis with a 0..1 scale bar, the mask's contour and the overlay, side by side at full size
(up to report_views.VIEW_SIDE), with links to the full-resolution outputs. The view panels are files under
``<out>/.deal/report/`` (deal.inference.report_views), inside the run's output tree, so the report opens
from disk with no network. The legend states the verdict rule (VERDICT_RULE, the same words as the CLI
help and the README) with the run's thresholds. The report's bytes depend only on the results (no dates,
no timings). For large runs it lists the `max_rows` highest-scoring images (thumbnails for the first
`max_thumbnails`, views for the first `max_views`) and every failure up to `max_failures`; results.csv
holds everything.

Records are read with .get: older records (one `image_threshold`, no `inconclusive`) render too.
"""

from __future__ import annotations

import base64
import heapq
import html
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

from deal.metrics.image_score import SCORE_RULE, VERDICT_RULE, VERDICTS, verdict_limitation

MAX_ROWS = 2000
MAX_THUMBNAILS = 200
MAX_VIEWS = 200
MAX_FAILURES = 1000

HEATMAP_RULE = "the heatmap is each pixel's probability of having been edited, from 0 to 1"
# The settings key that marks the bundled demonstration detector (run_folder passes it; not listed).
BUNDLED_KEY = "bundled detector"
# The settings key of the sentence saying which verdict the detector can never give ("none": it can give all).
LIMITATION_KEY = "verdict limitation"
BUNDLED_BANNER = (
    "This is the bundled demonstration detector, trained from scratch on synthetic edits: it shows how deal "
    "works and is not a forensic-grade detector. Do not base conclusions about real images on its verdicts."
)

# viridis at p = 0, 1/8, ..., 1 (deal.inference.outputs.colormap_lut), for the CSS scale bars.
_VIRIDIS_STOPS = "#440154,#472d7b,#3b528b,#2c728e,#21918c,#27ad81,#5cc863,#aadc32,#fde725"

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:16px;color:#222;background:#fff}
h1{font-size:20px;margin:0 0 8px}h2{font-size:16px;margin:20px 0 6px}
.banner{border:1px solid #bbb;background:#f4f4f4;padding:8px 12px;margin:0 0 12px;font-size:14px}
.banner.demo{border-color:#d18f00;background:#fff4d6}
.banner .det{font-weight:600}
p.summary{margin:0 0 10px;color:#333}
.legend{font-size:13px;color:#333;margin:0 0 14px;max-width:1100px;display:grid;
 grid-template-columns:max-content auto;gap:3px 10px;align-items:baseline}
.legend dt{font-weight:600}.legend dd{margin:0}.legend code{background:#f1f1f1;padding:0 3px}
.scale{display:inline-block;vertical-align:middle;font-size:11px;color:inherit}
.scale .bar{position:relative;width:256px;height:12px;border:1px solid #888;
 background:linear-gradient(to right,VIRIDIS)}
.scale .bar .thr{position:absolute;top:-3px;bottom:-3px;width:2px;margin-left:-1px;background:#fff;
 outline:1px solid #000}
.scale .ticks{position:relative;width:256px;height:14px}
.scale .ticks span{position:absolute;transform:translateX(-50%)}
table{border-collapse:collapse;font-size:13px}
th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:middle}
th{cursor:pointer;user-select:none;background:#f3f3f3;position:sticky;top:0}
th.sorted-desc::after{content:" \\25BC"}th.sorted-asc::after{content:" \\25B2"}
#results tbody tr{cursor:pointer}#results tbody tr:hover,#results tbody tr:focus{background:#eef4ff}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.thumb img{display:block;max-width:240px;max-height:160px}
.v{display:inline-block;padding:1px 7px;border-radius:9px;font-weight:600}
.v-edited{background:#b71c1c;color:#fff}
.v-authentic{background:#e3efe3;color:#1b5e20;border:1px solid #1b5e20}
.v-inconclusive{background:repeating-linear-gradient(45deg,#ffe08a,#ffe08a 4px,#fff3c4 4px,#fff3c4 8px);
 color:#4a3a00;border:1px dashed #8a6d00;font-style:italic}
.error{color:#b00}
dl.settings{display:grid;grid-template-columns:max-content auto;gap:2px 12px;font-size:13px}
dl.settings dt{color:#666}dl.settings dd{margin:0;font-family:ui-monospace,monospace;word-break:break-all}
#views{display:none}
tr.detail>td{padding:0;border-bottom:2px solid #555}
tr.detail:hover{background:none}
.view{background:#1e1e1e;color:#eee;overflow-x:auto;padding:10px 14px;cursor:auto}
.view[hidden]{display:none}
.view .head{display:flex;flex-wrap:wrap;gap:6px 18px;align-items:center;font-size:14px;margin:0 0 10px}
.view .head .file{font-weight:600;word-break:break-all}
.view button{font:inherit;font-size:13px;padding:2px 10px;cursor:pointer}
.view .panels{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
.view figure{margin:0}.view figcaption{font-size:12px;color:#ccc;margin:0 0 4px;height:16px}
.view figure img{display:block;image-rendering:auto;background:#333}
.view .notes,.view .links,.view .rule{font-size:12px;color:#ccc;margin:10px 0 0}
.view a{color:#9cf}
""".replace("VIRIDIS", _VIRIDIS_STOPS)

# Header clicks sort (numbers by data-v); a row click, Enter, or #view=N opens its view in a row below
# it (a second click or Esc closes it), the arrow keys step through the rows in the table's order.
_JS = """
(function(){
var table=document.getElementById('results');
var ths=table.tHead.rows[0].cells;
Array.prototype.forEach.call(ths,function(th,col){
  th.addEventListener('click',function(){
    close();
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
var current=null, detail=null, views=document.getElementById('views');
function close(){
  if(current===null)return;
  var v=document.getElementById('view-'+current);v.hidden=true;views.appendChild(v);
  detail.parentNode.removeChild(detail);current=null;
}
function open(k){
  var v=document.getElementById('view-'+k), tr=table.querySelector('tbody tr[data-view="'+k+'"]');
  if(!v||!tr)return;
  close();
  if(!detail){detail=document.createElement('tr');detail.className='detail';
    var td=document.createElement('td');td.colSpan=tr.cells.length;detail.appendChild(td);}
  v.querySelectorAll('img[data-src]').forEach(function(img){img.src=img.dataset.src;img.removeAttribute('data-src');});
  detail.firstChild.appendChild(v);tr.parentNode.insertBefore(detail,tr.nextSibling);
  v.hidden=false;current=k;
  if(detail.scrollIntoView)detail.scrollIntoView({block:'nearest'});
}
function step(d){
  var rows=Array.prototype.slice.call(table.tBodies[0].rows).filter(function(r){return r.dataset.view!==undefined;});
  var i=rows.findIndex(function(r){return r.dataset.view===current;});
  if(rows[i+d])open(rows[i+d].dataset.view);
}
Array.prototype.forEach.call(table.tBodies[0].rows,function(tr){
  tr.addEventListener('click',function(){if(current===tr.dataset.view)close();else open(tr.dataset.view);});
  tr.addEventListener('keydown',function(e){if(e.key==='Enter')open(tr.dataset.view);});
});
document.querySelectorAll('.view .close').forEach(function(b){b.addEventListener('click',close);});
document.querySelectorAll('.view .prev').forEach(function(b){b.addEventListener('click',function(){step(-1);});});
document.querySelectorAll('.view .next').forEach(function(b){b.addEventListener('click',function(){step(1);});});
document.addEventListener('keydown',function(e){
  if(current===null||e.target.tagName==='BUTTON')return;
  if(e.key==='Escape')close();else if(e.key==='ArrowRight')step(1);else if(e.key==='ArrowLeft')step(-1);
});
var m=/^#view=(\\d+)$/.exec(location.hash);
if(m){var tr=table.querySelector('tbody tr[data-view="'+m[1]+'"]');if(tr)tr.click();}
})();
"""

ViewMaker = Callable[[int, dict[str, Any]], Any]  # (rank, record) -> report_views.View


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _url(rel: str) -> str:
    """A relative path inside the output tree as a relative URL (spaces, #, ? and non-ASCII escaped)."""
    return _e(quote(rel, safe="/"))


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.3f}"


def thresholds_of(record: dict[str, Any]) -> tuple[float | None, float | None, float | None]:
    """(threshold, image_threshold_low, image_threshold_high) of a record; an older record's single
    `image_threshold` t is the rule with low = high = t (edited at score >= t, authentic below)."""
    low, high = record.get("image_threshold_low"), record.get("image_threshold_high")
    if low is None and high is None and record.get("image_threshold") is not None:
        low = high = record["image_threshold"]
    return record.get("threshold"), low, high


def _verdict_chip(verdict: str) -> str:
    cls = f"v v-{verdict}" if verdict in VERDICTS else "v"
    return f'<span class="{cls}">{_e(verdict)}</span>'


def _scale_bar(threshold: float | None) -> str:
    ticks = "".join(f'<span style="left:{100 * t:g}%">{t:g}</span>' for t in (0, 0.25, 0.5, 0.75, 1))
    thr = (
        f'<span class="thr" style="left:{100 * float(threshold):.2f}%" '
        f'title="threshold {float(threshold):.3f}"></span>'
        if threshold is not None
        else ""
    )
    return (
        f'<span class="scale" title="viridis: probability 0 (dark blue) to 1 (yellow)">'
        f'<span class="bar" style="display:block">{thr}</span><span class="ticks" style="display:block">{ticks}'
        "</span></span>"
    )


def _banner(settings: dict[str, Any]) -> str:
    name = settings.get("detector")
    sha = settings.get("detector sha256")
    who = f'Detector: <span class="det">{_e(name if name is not None else "(unnamed)")}</span>'
    if isinstance(sha, str) and len(sha) == 64:
        who += f" (sha256 {_e(str(sha)[:12])})"
    if settings.get(BUNDLED_KEY):
        return f'<div class="banner demo" id="banner">{who}. {_e(BUNDLED_BANNER)}</div>'
    return f'<div class="banner" id="banner">{who}.</div>'


def _legend(thresholds: tuple[float | None, float | None, float | None], limitation: str | None = None) -> str:
    """The legend; ``limitation``: deal.metrics.image_score.verdict_limitation's sentence (from the run's
    settings; else from the records' thresholds, without what the calibration said)."""
    thr, low, high = thresholds
    if limitation is None and low is not None and high is not None:
        limitation = verdict_limitation(float(low), float(high))
    if limitation == "none":
        limitation = None
    return (
        '<dl class="legend" id="legend">'
        f"<dt>Score</dt><dd>{_e(SCORE_RULE)}.</dd>"
        f"<dt>Verdict</dt><dd>{_e(VERDICT_RULE)}. "
        f"{_verdict_chip('edited')} {_verdict_chip('inconclusive')} {_verdict_chip('authentic')}"
        + (f' <span id="verdict-limitation">{_e(limitation)}</span>' if limitation else "")
        + "</dd>"
        f"<dt>Thresholds</dt><dd>in this run <code>image_threshold_low = {_fmt(low)}</code>, "
        f"<code>image_threshold_high = {_fmt(high)}</code>, <code>threshold = {_fmt(thr)}</code>.</dd>"
        f"<dt>Heatmap</dt><dd>{_scale_bar(thr)} {_e(HEATMAP_RULE)}, in the viridis colormap (dark blue 0, "
        "yellow 1); the white tick marks the threshold.</dd>"
        "<dt>Views</dt><dd>click a row for the image, the heatmap, the mask's contour (white on black) and "
        "the overlay (the image in gray, the heatmap's colours blended in by probability, and the contour), "
        "side by side at full size; Esc closes, the arrow keys step through the rows.</dd>"
        "</dl>"
    )


def _thumb_cell(thumb: bytes | None) -> str:
    if not thumb:
        return '<td class="thumb" data-v="">&ndash;</td>'
    data = base64.b64encode(thumb).decode("ascii")
    return f'<td class="thumb" data-v=""><img alt="overlay" src="data:image/jpeg;base64,{data}"></td>'


_CAPTIONS = {
    "image": "image",
    "heatmap": "heatmap (viridis, 0 to 1)",
    "contour": "mask contour (p > {thr})",
    "overlay": "overlay",
}


def _view(rank: int, record: dict[str, Any], view: Any, n_views: int) -> str:
    """The hidden view of one row (its images load when it opens)."""
    score = float(record.get("score") or 0.0)
    thr, low, high = thresholds_of(record)
    frac = float(record.get("edited_fraction") or 0.0)
    head = (
        f'<div class="head"><span class="file">{_e(record.get("path"))}</span>'
        f"<span>score {score:.3f}</span>{_verdict_chip(record.get('verdict') or '')}"
        f"<span>edited area {100 * frac:.1f}%</span><span>{int(record.get('n_regions') or 0)} regions</span>"
        f"<span>{_e(record.get('width'))}&times;{_e(record.get('height'))}, {_e(record.get('inference'))}</span>"
        '<span><button class="prev" title="previous row (&larr;)">&larr;</button> '
        '<button class="next" title="next row (&rarr;)">&rarr;</button> '
        '<button class="close" title="close (Esc)">close</button></span></div>'
    )
    figures = []
    notes: list[str] = []
    if view is None:
        notes.append(
            f"No full-size view: only the {n_views} highest-scoring images have one (see results.csv and the "
            "output files)."
        )
    else:
        notes += list(view.notes)
        for panel, rel in view.files.items():
            caption = _CAPTIONS[panel].format(thr=_fmt(thr))
            extra = f"<div>{_scale_bar(thr)}</div>" if panel == "heatmap" else ""
            figures.append(
                f'<figure class="panel" data-panel="{panel}"><figcaption>{_e(caption)}</figcaption>'
                f'<img alt="{panel}" width="{view.width}" height="{view.height}" data-src="{_url(rel)}">'
                f"{extra}</figure>"
            )
    outputs = record.get("outputs") or {}
    links = " &middot; ".join(
        f'<a href="{_url(outputs[k])}" target="_blank">{_e(outputs[k])}</a>'
        for k in ("overlay", "heatmap", "mask", "npz", "json")
        if isinstance(outputs.get(k), str)
    )
    rule = (
        f"{_e(VERDICT_RULE)}: image_threshold_low = {_fmt(low)}, image_threshold_high = {_fmt(high)}, "
        f"threshold = {_fmt(thr)}."
    )
    return (
        f'<div class="view" id="view-{rank}" hidden role="region" aria-label="view">'
        + head
        + f'<div class="panels">{"".join(figures)}</div>'
        + (f'<p class="links">Full resolution: {links}</p>' if links else "")
        + "".join(f'<p class="notes">{_e(n)}</p>' for n in notes)
        + f'<p class="rule">{rule}</p></div>'
    )


def render_report(
    entries: Iterable[tuple[int, dict[str, Any], Path | None]],
    *,
    settings: dict[str, Any],
    title: str = "deal detect report",
    max_rows: int = MAX_ROWS,
    max_thumbnails: int = MAX_THUMBNAILS,
    max_views: int = MAX_VIEWS,
    max_failures: int = MAX_FAILURES,
    make_view: ViewMaker | None = None,
) -> str:
    """The report's HTML.

    Args:
        entries: (input index, record, thumbnail JPEG path or None) for every input, streamed.
        settings: the run's settings, shown as a name/value list; "detector" and "detector sha256" name
            the detector in the banner, and a true BUNDLED_KEY marks the bundled demonstration detector.
        make_view: (rank, record) -> report_views.View for the first `max_views` rows (None: the views
            hold the row's numbers and no images).
    """
    # A min-heap of the max_rows highest (score, -index): equal scores keep input order, and the pair is
    # unique, so records are never compared.
    top: list[tuple[float, int, dict[str, Any], Path | None]] = []
    failures: list[dict[str, Any]] = []
    n = n_failed = 0
    counts = dict.fromkeys(VERDICTS, 0)
    n_other = 0
    for index, record, thumb in entries:
        n += 1
        if record.get("error") is not None:
            n_failed += 1
            if len(failures) < max_failures:
                failures.append(record)
            continue
        verdict = record.get("verdict")
        if verdict in counts:
            counts[verdict] += 1
        else:
            n_other += 1
        item = (float(record.get("score") or 0.0), -index, record, thumb)
        if len(top) < max_rows:
            heapq.heappush(top, item)
        else:
            heapq.heappushpop(top, item)
    ranked = sorted(top, key=lambda t: (t[0], t[1]), reverse=True)
    rows: list[str] = []
    views: list[str] = []
    for rank, (score, _, record, thumb) in enumerate(ranked):
        data = thumb.read_bytes() if thumb is not None and rank < max_thumbnails and thumb.is_file() else None
        verdict = record.get("verdict") or ""
        frac = float(record.get("edited_fraction") or 0.0)
        rows.append(
            f'<tr data-view="{rank}" tabindex="0">'
            + _thumb_cell(data)
            + f'<td data-v="{_e(record.get("path"))}">{_e(record.get("path"))}</td>'
            + f'<td class="num" data-v="{score!r}">{score:.3f}</td>'
            + f'<td data-v="{_e(verdict)}">{_verdict_chip(verdict)}</td>'
            + f'<td class="num" data-v="{frac!r}">{100 * frac:.1f}%</td>'
            + f'<td class="num" data-v="{int(record.get("n_regions") or 0)}">{int(record.get("n_regions") or 0)}</td>'
            + f'<td data-v="{_e(record.get("width"))}x{_e(record.get("height"))}">'
            + f"{_e(record.get('width'))}&times;{_e(record.get('height'))}</td>"
            + f'<td data-v="{_e(record.get("inference"))}">{_e(record.get("inference"))}</td>'
            + "</tr>"
        )
    # The views' panels (decoding inputs and maps, encoding JPEGs: OpenCV releases the GIL) in a few threads.
    with_views = ranked[:max_views] if make_view is not None else []
    with ThreadPoolExecutor(max(1, min(4, os.cpu_count() or 1))) as pool:
        made = list(pool.map(make_view, range(len(with_views)), [t[2] for t in with_views]))
    for rank, (_, _, record, _) in enumerate(ranked):
        view = made[rank] if rank < len(made) else None
        views.append(_view(rank, record, view, min(max_views, len(ranked))))
    shown = (
        f" (the {len(rows)} highest scores are listed; results.csv has all)"
        if len(rows) < n - n_failed
        else ""
    )
    other = f", {n_other} with another verdict" if n_other else ""
    thresholds = thresholds_of(ranked[0][2]) if ranked else (None, None, None)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        _banner(settings),
        f'<p class="summary" id="summary">{n} images: {counts["edited"]} edited, '
        f"{counts['inconclusive']} inconclusive, {counts['authentic']} authentic{other}, "
        f"{n_failed} failed{_e(shown)}. Click a row to open its view; click a column header to sort.</p>",
        _legend(thresholds, settings.get(LIMITATION_KEY)),
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
    parts += [f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in settings.items() if k != BUNDLED_KEY]
    parts.append("</dl>")
    parts.append('<div id="views">')
    parts += views
    parts.append("</div>")
    parts.append(f"<script>{_JS}</script></body></html>\n")
    return "\n".join(parts)


def is_bundled_detector(sha256: str | None) -> bool:
    """Whether a detector file with this sha256 is the bundled demonstration detector."""
    if not sha256:
        return False
    from deal.fileio import sha256_file
    from deal.hub import bundled_detector_path

    path = bundled_detector_path()
    return path is not None and sha256_file(path) == sha256


def write_report(
    path: Path, entries: Iterable[tuple[int, dict[str, Any], Path | None]], **kwargs: Any
) -> Path:
    """Renders the report (see render_report) and writes it atomically to `path`, with the view panels
    of its rows under the output folder (`path`'s folder, deal.inference.report_views)."""
    from deal.fileio import atomic_write_text
    from deal.inference.report_views import View, make_view, output_stem, remove_stale_views

    out_dir = Path(path).parent
    written: set[str] = set()

    def view_of(rank: int, record: dict[str, Any]) -> Any:
        try:
            view = make_view(out_dir, record, output_stem(record) or f"row{rank}")
        except Exception as err:  # e.g. disk full or a corrupt map: this row has no view, the report goes on
            return View(notes=[f"The view could not be made: {type(err).__name__}: {err}."])
        written.update(view.files.values())
        return view

    kwargs.setdefault("make_view", view_of)
    text = render_report(entries, **kwargs)
    remove_stale_views(out_dir, written)
    atomic_write_text(path, text)
    return path
