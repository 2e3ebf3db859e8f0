"""The HTML report of a run: a banner naming the detector, a legend, a sortable table, one view per row.

Rendered from deal/report/templates/report.html.j2 with the style and behaviour of static/report.css and
static/report.js inlined (package data), so the table needs no other file. Clicking a row (or Enter on it,
or opening ``report.html#view=N`` for the N-th row) opens its view: the image, the heatmap in viridis with
a 0..1 scale bar, the mask's contour and the overlay, side by side at full size (up to views.VIEW_SIDE),
with links to the full-resolution outputs. The view panels are files under ``<out>/.deal/report/``
(deal.report.views), inside the run's output tree, so the report opens from disk with no network. The
legend states the verdict rule (VERDICT_RULE, the same words as the CLI help and the README) with the
run's thresholds. Each row has a provenance column (the C2PA badge and flags) and its view a provenance
panel with a "how to read this" card (deal.report.provenance, templates/provenance.html.j2); the report
prints cleanly (report.css's print rules). The report's bytes depend only on the records and the run's
metadata (no dates, no timings). For large runs it lists the `max_rows` highest-scoring images
(thumbnails for the first `max_thumbnails`, views for the first `max_views`) and every failure up to
`max_failures`; results.csv holds everything.

Records are read with .get: older records (one `image_threshold`, no `inconclusive`) render too.
"""

from __future__ import annotations

import base64
import heapq
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

from deal.baselines.views import VIEWS
from deal.baselines.views.reliability import MODEL, measured_detector_sha256, reliability_line
from deal.imageio import default_decode_workers
from deal.metrics.image_score import SCORE_RULE, VERDICT_RULE, VERDICTS, verdict_limitation
from deal.provenance.fields import HOW_TO_READ
from deal.report.provenance import provenance_view
from deal.report.views import MODEL_LAYER

MAX_ROWS = 2000
MAX_THUMBNAILS = 200
MAX_VIEWS = 200
MAX_FAILURES = 1000

HEATMAP_RULE = "the heatmap is each pixel's probability of having been edited, from 0 to 1"
# The metadata key that marks the bundled demonstration detector (the run's metadata; not listed).
BUNDLED_KEY = "bundled detector"
# The metadata key of the sentence saying which verdict the detector can never give ("none": it can give all
# three; deal.metrics.image_score.detector_verdict_limitation, as deal detect and deal export print it).
LIMITATION_KEY = "verdict limitation"
BUNDLED_BANNER = (
    "This is the bundled demonstration detector, trained from scratch on synthetic edits: it shows how deal "
    "works and is not a forensic-grade detector. Do not base conclusions about real images on its verdicts."
)
_TICKS = [{"left": f"{100 * t:g}", "label": f"{t:g}"} for t in (0, 0.25, 0.5, 0.75, 1)]
_CAPTIONS = {
    "image": "image",
    "heatmap": "heatmap (viridis, 0 to 1)",
    "contour": "mask contour (p > {thr})",
    "overlay": "overlay",
}

ViewMaker = Callable[[int, dict[str, Any]], Any]  # (rank, record) -> views.View


def static_text(name: str) -> str:
    """A file of the report's package data (static/report.css, static/report.js, templates/...)."""
    return resources.files("deal.report").joinpath(name).read_text(encoding="utf-8")


@cache
def _template() -> Any:
    import jinja2
    from markupsafe import Markup

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("deal.report", "templates"),
        autoescape=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.globals.update(
        verdicts=VERDICTS,
        ticks=_TICKS,
        css=Markup(static_text("static/report.css")),
        js=Markup(static_text("static/report.js")),
        score_rule=SCORE_RULE,
        verdict_rule=VERDICT_RULE,
        heatmap_rule=HEATMAP_RULE,
        bundled_banner=BUNDLED_BANNER,
        how_to_read=HOW_TO_READ,
    )
    return env.get_template("report.html.j2")


def _url(rel: str) -> str:
    """A relative path inside the output tree as a relative URL (spaces, #, ? and non-ASCII escaped)."""
    return quote(rel, safe="/")


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.3f}"


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def thresholds_of(record: dict[str, Any]) -> tuple[float | None, float | None, float | None]:
    """(threshold, image_threshold_low, image_threshold_high) of a record; an older record's single
    `image_threshold` t is the rule with low = high = t (edited at score >= t, authentic below)."""
    low, high = record.get("image_threshold_low"), record.get("image_threshold_high")
    if low is None and high is None and record.get("image_threshold") is not None:
        low = high = record["image_threshold"]
    return record.get("threshold"), low, high


def legend_limitation(settings: dict[str, Any], low: float | None, high: float | None) -> str | None:
    """The legend's sentence on which verdict the detector can never give: the run's metadata's
    (LIMITATION_KEY, which knows what the calibration reached), else from the records' thresholds alone."""
    limitation = settings.get(LIMITATION_KEY)
    if limitation is None and low is not None and high is not None:
        limitation = verdict_limitation(float(low), float(high))
    return None if limitation == "none" else limitation


def _row(record: dict[str, Any], score: float, thumb: bytes | None, view: Any, n_views: int) -> dict[str, Any]:
    """What the template shows of one listed record: its table row and its view."""
    thr, low, high = thresholds_of(record)
    frac = float(record.get("edited_fraction") or 0.0)
    panels: list[dict[str, Any]] = []
    notes: list[str] = []
    if view is None:
        notes.append(
            f"No full-size view: only the {n_views} highest-scoring images have one (see results.csv and the "
            "output files)."
        )
    else:
        notes += list(view.notes)
        panels = [
            {
                "name": panel,
                "caption": _CAPTIONS[panel].format(thr=_fmt(thr)),
                "width": view.width,
                "height": view.height,
                "url": _url(rel),
            }
            for panel, rel in view.files.items()
        ]
    outputs = record.get("outputs") or {}
    layers = [] if view is None else [
        {**_layer(layer, record), "width": view.width, "height": view.height} for layer in view.layers
    ]
    links = [
        {"url": _url(outputs[k]), "name": outputs[k]}
        for k in ("overlay", "heatmap", "mask", "npz", "json")
        if isinstance(outputs.get(k), str)
    ]
    n_regions = int(record.get("n_regions") or 0)
    return {
        "thumb": base64.b64encode(thumb).decode("ascii") if thumb else None,
        "path": _text(record.get("path")),
        "score": score,
        "score_v": repr(score),
        "verdict": record.get("verdict") or "",
        "frac": frac,
        "frac_v": repr(frac),
        "n_regions": n_regions,
        "width": _text(record.get("width")),
        "height": _text(record.get("height")),
        "inference": _text(record.get("inference")),
        "threshold": None if thr is None else float(thr),
        "thr": _fmt(thr),
        "low": _fmt(low),
        "high": _fmt(high),
        "panels": panels,
        "layers": layers,
        "links": links,
        "notes": notes,
        "provenance": provenance_view(record.get("provenance")),
    }


def _layer(layer: Any, record: dict[str, Any]) -> dict[str, Any]:
    """What the template shows of one layer: its title, score, note, image and one-line reliability (the
    shipped figures of deal.baselines.views.reliability; the model's only for the detector they measured)."""
    if layer.name == MODEL_LAYER:
        title = "model (the detector's heatmap)"
        sha = (record.get("detector") or {}).get("sha256")
        reliability = reliability_line(MODEL) if sha and sha == measured_detector_sha256() else (
            "reliability not measured for this detector"
        )
    else:
        title = VIEWS[layer.name].title if layer.name in VIEWS else layer.name
        reliability = reliability_line(VIEWS[layer.name].baseline) if layer.name in VIEWS else ""
    return {
        "name": layer.name,
        "title": title,
        "url": _url(layer.file) if layer.file else None,
        "score": None if layer.score is None else float(layer.score),
        "note": layer.note,
        "reliability": reliability,
    }


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
        settings: the run's metadata, shown as a name/value list; "detector" and "detector sha256" name
            the detector in the banner, and a true BUNDLED_KEY marks the bundled demonstration detector.
        make_view: (rank, record) -> views.View for the first `max_views` rows (None: the views hold the
            row's numbers and no images).
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
                failures.append({"path": _text(record.get("path")), "error": _text(record.get("error"))})
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
    # The views' panels (decoding inputs and maps, encoding JPEGs: OpenCV releases the GIL) in a few threads.
    with_views = ranked[:max_views] if make_view is not None else []
    with ThreadPoolExecutor(default_decode_workers()) as pool:
        made = list(pool.map(make_view, range(len(with_views)), [t[2] for t in with_views]))
    n_views = min(max_views, len(ranked))
    rows = []
    for rank, (score, _, record, thumb) in enumerate(ranked):
        data = thumb.read_bytes() if thumb is not None and rank < max_thumbnails and thumb.is_file() else None
        rows.append(_row(record, score, data, made[rank] if rank < len(made) else None, n_views))
    thr, low, high = thresholds_of(ranked[0][2]) if ranked else (None, None, None)
    limitation = legend_limitation(settings, low, high)
    name, sha = settings.get("detector"), settings.get("detector sha256")
    return _template().render(
        title=title,
        bundled=bool(settings.get(BUNDLED_KEY)),
        detector=name if name is not None else "(unnamed)",
        sha12=sha[:12] if isinstance(sha, str) and len(sha) == 64 else None,
        n=n,
        counts=counts,
        n_other=n_other,
        n_failed=n_failed,
        shown_note=f"(the {len(rows)} highest scores are listed; results.csv has all)"
        if len(rows) < n - n_failed
        else "",
        legend={
            "threshold": None if thr is None else float(thr),
            "thr": _fmt(thr),
            "low": _fmt(low),
            "high": _fmt(high),
            "limitation": limitation,
        },
        rows=rows,
        failures=failures,
        settings=[(_text(k), _text(v)) for k, v in settings.items() if k != BUNDLED_KEY],
    )


def write_report(
    path: Path, entries: Iterable[tuple[int, dict[str, Any], Path | None]], **kwargs: Any
) -> Path:
    """Renders the report (see render_report) and writes it atomically to `path`, with the view panels
    of its rows under the output folder (`path`'s folder, deal.report.views)."""
    from deal.fileio import atomic_write_text
    from deal.report.views import View, make_view, output_stem, remove_stale_views

    out_dir = Path(path).parent
    written: set[str] = set()

    def view_of(rank: int, record: dict[str, Any]) -> Any:
        try:
            view = make_view(out_dir, record, output_stem(record) or f"row{rank}")
        except Exception as err:  # e.g. disk full or a corrupt map: this row has no view, the report goes on
            return View(notes=[f"The view could not be made: {type(err).__name__}: {err}."])
        written.update(view.files.values())
        written.update(layer.file for layer in view.layers if layer.file)
        return view

    kwargs.setdefault("make_view", view_of)
    text = render_report(entries, **kwargs)
    remove_stale_views(out_dir, written)
    atomic_write_text(path, text)
    return path
