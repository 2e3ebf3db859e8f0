"""The result record of one input, whether a record on disk is complete, and results.jsonl / results.csv.

A record (one line of results.jsonl, and the content of the ``<name>.json`` sidecar) has these keys, in
this order:

path, sha256 (of the input's bytes), bytes, width, height, score, verdict, threshold (of the mask: p > threshold), image_threshold_low and
image_threshold_high (of the verdict: deal.metrics.image_score.VERDICT_RULE), edited_fraction,
n_regions (connected components of the mask covering at least region_min_fraction of the image),
n_regions_dropped (smaller components: not regions), region_min_fraction, regions (the 50 largest), inference ("native" | "tiled" | "resized" | "sam"), tile, outputs
(kind -> path relative to the output folder), detector (name, sha256), device, deal_version, seconds (the
image's own time: decoding, its share of the batches it ran in (deal.inference.image_times), writing),
error (null, or a message naming the file and the problem), notes (list of strings), provenance (what the
file's bytes say about its origin: deal.provenance, documented in docs/provenance.md; null for a failed input),
views (the classic forensic views asked for, ``deal detect --views``: view -> {score, note, seconds}; the
map of each is output kind ``view-<view>`` in outputs; a view that does not apply or failed has a note and
no map).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from deal.provenance import CSV_COLUMNS as PROVENANCE_CSV_COLUMNS
from deal.provenance import csv_fields as provenance_csv_fields
from deal.report.outputs import OUTPUT_KINDS, VIEW_KIND_PREFIX

RESULTS_JSONL = "results.jsonl"  # one record per input, in input order, in the run folder
RESULTS_CSV = "results.csv"  # the same, one row per input

# The per-image figures a record and a CSV row share, in this order.
_SHARED_KEYS = (
    "path",
    "sha256",
    "bytes",
    "width",
    "height",
    "score",
    "verdict",
    "threshold",
    "image_threshold_low",
    "image_threshold_high",
    "edited_fraction",
)
RECORD_KEYS = (
    *_SHARED_KEYS,
    "n_regions",
    "n_regions_dropped",
    "region_min_fraction",
    "regions",
    "inference",
    "tile",
    "outputs",
    "detector",
    "device",
    "deal_version",
    "seconds",
    "error",
    "notes",
    "provenance",
    "views",
)
CSV_COLUMNS = (
    *_SHARED_KEYS,
    "regions",
    "regions_dropped",
    *OUTPUT_KINDS,
    "inference",
    "detector_name",
    "detector_sha256",
    "device",
    "deal_version",
    "seconds",
    "error",
    "notes",
    "views",
    *PROVENANCE_CSV_COLUMNS,
)


def make_record(**values: Any) -> dict[str, Any]:
    """A record with every key of RECORD_KEYS, in order (missing ones None; regions/notes/outputs empty)."""
    unknown = set(values) - set(RECORD_KEYS)
    if unknown:
        raise ValueError(f"unknown record key(s) {sorted(unknown)}")
    defaults: dict[str, Any] = {"regions": [], "outputs": {}, "notes": [], "views": {}}
    return {k: values.get(k, defaults.get(k)) for k in RECORD_KEYS}


def record_json(record: dict[str, Any]) -> str:
    """The sidecar's text (indented, UTF-8, trailing newline)."""
    return json.dumps(record, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def record_line(record: dict[str, Any]) -> str:
    """One line of results.jsonl."""
    return json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n"


def read_record(path: Path) -> dict[str, Any] | None:
    """A record file's content, or None if it is missing or unreadable (a torn write cannot exist:
    records are written atomically, but a hand-edited file might not parse)."""
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def is_complete(
    record: dict[str, Any] | None,
    out_dir: Path,
    *,
    expected: dict[str, Any],
    kinds: Iterable[str],
    extra_files: Iterable[Path] = (),
    input_size: int | None = None,
) -> bool:
    """Whether a previous run's record can stand for this run: no error, the same detector, threshold and
    tiling (`expected`), the same input size in bytes, and every requested output present on disk."""
    if not record or record.get("error") is not None:
        return False
    if any(record.get(k) != v for k, v in expected.items()):
        return False
    if input_size is not None and record.get("bytes") != input_size:
        return False
    outputs = record.get("outputs") or {}
    for kind in kinds:
        if kind not in outputs or not (out_dir / outputs[kind]).is_file():
            return False
    return all(p.is_file() for p in extra_files)


def views_cell(views: dict[str, dict[str, Any]]) -> str:
    """The views of a record in one CSV cell: ``ela=0.83; jpeg=n/a`` (n/a: no map; its note is in the
    record)."""
    return "; ".join(f"{name}={'n/a' if v.get('score') is None else format(v['score'], '.4f')}" for name, v in views.items())


def views_complete(record: dict[str, Any], out_dir: Path, views: Iterable[str]) -> bool:
    """Whether the record has every view in ``views``, each with its map on disk where it has one (a view
    that did not apply has none; one that failed is computed again)."""
    found = record.get("views") or {}
    outputs = record.get("outputs") or {}
    for name in views:
        if name not in found or found[name].get("failed"):
            return False
        kind = VIEW_KIND_PREFIX + name
        if kind in outputs and not (out_dir / outputs[kind]).is_file():
            return False
    return True


def csv_row(record: dict[str, Any]) -> list[Any]:
    """A record flattened to CSV_COLUMNS (regions as a count, outputs one column per kind)."""
    outputs = record.get("outputs") or {}
    detector = record.get("detector") or {}
    flat = dict(record)
    flat["regions"] = record.get("n_regions")
    flat["regions_dropped"] = record.get("n_regions_dropped")
    flat.update({k: outputs.get(k, "") for k in OUTPUT_KINDS})
    flat["detector_name"] = detector.get("name")
    flat["detector_sha256"] = detector.get("sha256")
    flat["notes"] = "; ".join(record.get("notes") or [])
    flat["views"] = views_cell(record.get("views") or {})
    flat.update(provenance_csv_fields(record.get("provenance")))
    return ["" if flat.get(c) is None else flat.get(c) for c in CSV_COLUMNS]


def write_results(records: Iterable[dict[str, Any]], jsonl_path: Path, csv_path: Path) -> int:
    """Writes results.jsonl and results.csv from `records` (streamed, in order), each atomically.

    Returns the number of records written.
    """
    from deal.fileio import atomic_path

    n = 0
    with atomic_path(jsonl_path) as tmp_jsonl, atomic_path(csv_path) as tmp_csv:
        with (
            open(tmp_jsonl, "w", encoding="utf-8", newline="\n") as fj,
            open(tmp_csv, "w", encoding="utf-8", newline="") as fc,
        ):
            writer = csv.writer(fc, lineterminator="\n")
            writer.writerow(CSV_COLUMNS)
            for record in records:
                fj.write(record_line(record))
                writer.writerow(csv_row(record))
                n += 1
    return n
