"""``deal data prepare``: turn a downloaded dataset into ``OUT/manifest.csv`` + ``OUT/summary.json``.

    deal data prepare deal300k  --src DIR_OR_ZIPS... --out OUT [--instructions DIR]
    deal data prepare cocoglide --src CocoGlide.zip|DIR --out OUT

Zips (DEAL-300K's train.zip, val.zip, test.zip, label.zip; CocoGlide.zip) are extracted safely
(absolute and ``..`` members are rejected) into ``OUT/files/<zip stem>/``, once: a marker file makes
later runs skip them. A folder given as ``--src`` is indexed in place, unless it holds ``*.zip``
files, which are then extracted instead. DEAL-300K files pair by name (see
:mod:`deal.data.deal300k`); the split comes from the zip's (or a folder's) name.

``manifest.csv`` columns: ``split,name,image,mask,original,label,tag,width,height,edited_fraction,
instruction`` (paths relative to OUT when inside it, else absolute; ``edited_fraction`` = share of
mask pixels > 127; ``instruction`` = DEAL-300K's generated edit instruction where found). It is
what :func:`deal.data.discover_records` reads for OUT. Files that cannot be read, masks whose size
differs from their image and edited images without a mask are left out and listed as problems
(exit code 1).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deal_data_tools.cli_common import add_workers_argument, atomic_open, parallel_map

from deal.fileio import write_json

DATASETS: tuple[str, ...] = ("deal300k", "cocoglide")
MANIFEST_COLUMNS: tuple[str, ...] = (
    "split",
    "name",
    "image",
    "mask",
    "original",
    "label",
    "tag",
    "width",
    "height",
    "edited_fraction",
    "instruction",
)
FILES_DIR = "files"
EXTRACTED_MARKER = ".deal-extracted.json"
INSTRUCTION_FILE = re.compile(r"^checkpoint-(?P<ckpt>\d+)_.*_results\.json$")
TAG_CHECKPOINT = re.compile(r"(?P<ckpt>\d+)$")


@dataclass
class PrepareResult:
    """What :func:`prepare_deal300k` / :func:`prepare_cocoglide` wrote and found."""

    manifest: Path
    summary_path: Path
    summary: dict[str, Any]
    problems: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- zips


def _unsafe_member(name: str) -> bool:
    norm = name.replace("\\", "/")
    return norm.startswith("/") or re.match(r"^[A-Za-z]:", norm) is not None or ".." in norm.split("/")


def extract_zip(zip_path: str | Path, files_root: str | Path, *, progress: bool | None = None) -> Path:
    """Extract ``zip_path`` into ``files_root/<zip stem>/`` and return that folder.

    Every member name is checked first: an absolute path or a ``..`` component (zip-slip) rejects
    the whole zip. Extraction goes to a temporary sibling folder, renamed when complete, then a
    marker file records the zip's size and member count; a later call with the same zip returns
    at once. ``__MACOSX/`` members are skipped.

    Raises:
        deal.data.DatasetError: unreadable zip or unsafe member names (listed).
    """
    from tqdm.auto import tqdm

    from deal.data import DatasetError
    from deal.data.paths import list_names

    zip_path = Path(zip_path)
    dest = Path(files_root) / zip_path.stem
    marker = dest / EXTRACTED_MARKER
    stamp = {"zip": zip_path.name, "size": zip_path.stat().st_size}
    if marker.is_file():
        done = json.loads(marker.read_text(encoding="utf-8"))
        if {k: done.get(k) for k in stamp} == stamp:
            return dest
    try:
        zf = zipfile.ZipFile(zip_path)
    except (OSError, zipfile.BadZipFile) as err:
        raise DatasetError(f"cannot open zip {zip_path}: {err}") from err
    with zf:
        members = [m for m in zf.infolist() if not m.filename.replace("\\", "/").startswith("__MACOSX/")]
        unsafe = [m.filename for m in members if _unsafe_member(m.filename)]
        if unsafe:
            raise DatasetError(
                f"zip {zip_path} has {len(unsafe)} unsafe member path(s) (absolute or '..'), "
                f"refusing to extract: {list_names(unsafe)}"
            )
        tmp = dest.with_name(f".{dest.name}.partial")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        total = sum(m.file_size for m in members)
        with tqdm(
            total=total, unit="B", unit_scale=True, desc=f"extract {zip_path.name}", disable=_off(progress)
        ) as bar:
            for m in members:
                zf.extract(m, tmp)
                bar.update(m.file_size)
    write_json(tmp / EXTRACTED_MARKER, {**stamp, "members": len(members)})
    if dest.exists():  # a stale, unfinished extraction of ours
        shutil.rmtree(dest)
    os.replace(tmp, dest)
    return dest


def _off(progress: bool | None) -> bool | None:
    """tqdm's ``disable``: None lets tqdm decide (off when stderr is not a terminal)."""
    return None if progress is None else not progress


def _sources(src: Sequence[str | Path], out: Path, progress: bool | None) -> list[Path]:
    """The folders to index: extracted zips and in-place folders."""
    from deal.data import DatasetError

    roots: list[Path] = []
    for s in map(Path, src):
        if not s.exists():
            raise DatasetError(f"--src does not exist: {s}")
        if s.is_file():
            if s.suffix.lower() != ".zip":
                raise DatasetError(f"--src {s} is a file but not a .zip")
            roots.append(extract_zip(s, out / FILES_DIR, progress=progress))
            continue
        zips = sorted(p for p in s.iterdir() if p.is_file() and p.suffix.lower() == ".zip")
        if zips:
            roots += [extract_zip(z, out / FILES_DIR, progress=progress) for z in zips]
        else:
            roots.append(s)
    return roots


# ----------------------------------------------------------------------------- instructions


def load_instructions(folder: str | Path) -> dict[str, dict[str, str]]:
    """DEAL-300K instructions: ``{checkpoint: {coco stem: text}}`` from every
    ``checkpoint-NNN_*_results.json`` under ``folder`` (lists of ``{"image_name": "<coco>.jpg",
    "generated_text": ...}``); files of one checkpoint are merged."""
    from deal.data import DatasetError

    found: dict[str, dict[str, str]] = {}
    files = sorted(p for p in Path(folder).rglob("*.json") if INSTRUCTION_FILE.match(p.name))
    if not files:
        raise DatasetError(f"no checkpoint-NNN_*_results.json files under --instructions {folder}")
    for path in files:
        m = INSTRUCTION_FILE.match(path.name)
        assert m is not None
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise DatasetError(f"cannot read instruction file {path}: {err}") from err
        table = found.setdefault(m["ckpt"], {})
        for entry in entries:
            if isinstance(entry, dict) and "image_name" in entry:
                table[Path(str(entry["image_name"])).stem] = str(entry.get("generated_text", ""))
    return found


def _instruction(record: Any, instructions: dict[str, dict[str, str]]) -> str:
    m = TAG_CHECKPOINT.search(record.tag or "")
    if record.label != 1 or m is None:
        return ""
    coco = record.name.split("_", 1)[0]
    return instructions.get(m["ckpt"], {}).get(coco, "")


# ----------------------------------------------------------------------------- measuring


def _image_size(path: str) -> tuple[int, int]:
    """(width, height) as :func:`deal.data.read_image` returns it (EXIF rotation applied), from
    the header only."""
    from PIL import Image

    with Image.open(path) as img:
        w, h = img.size
        if img.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # orientations that swap the axes
            w, h = h, w
    return w, h


def measure_record(record: Any) -> tuple[int, int, float, str]:
    """``(width, height, edited_fraction, error)`` of one record; ``error`` is "" when fine.
    Module-level so a process pool can run it."""
    from deal.data import DatasetError
    from deal.data.io import MASK_THRESHOLD, mask_values

    try:
        w, h = _image_size(record.image)
    except (OSError, ValueError, SyntaxError) as err:
        return 0, 0, 0.0, f"unreadable image {record.image}: {err}"
    if record.mask is None:
        return w, h, 0.0, ""
    try:
        values = mask_values(record.mask)
    except DatasetError as err:
        return w, h, 0.0, str(err)
    if values.shape != (h, w):
        mh, mw = values.shape
        return w, h, 0.0, f"mask {record.mask} is {mw}x{mh} (WxH) but its image {record.image} is {w}x{h}"
    return w, h, float((values > MASK_THRESHOLD).mean()), ""


# ----------------------------------------------------------------------------- manifest


def _rel(path: str | None, out_abs: Path) -> str:
    """``path`` relative to ``out_abs`` (absolute) when inside it, else absolute (no symlink
    resolution: a path is kept as the user's tree spells it)."""
    if not path:
        return ""
    p = Path(os.path.abspath(path))
    try:
        return p.relative_to(out_abs).as_posix()
    except ValueError:
        return str(p)


def write_manifest(
    records: Sequence[Any],
    out: Path,
    *,
    dataset: str,
    sources: Sequence[str],
    problems: list[str],
    instructions: dict[str, dict[str, str]] | None = None,
    workers: int | None = None,
    progress: bool | None = None,
) -> PrepareResult:
    """Measure ``records`` in parallel and write ``out/manifest.csv`` and ``out/summary.json``
    (both atomically); unreadable or mismatched records are left out and added to ``problems``."""
    from tqdm.auto import tqdm

    out.mkdir(parents=True, exist_ok=True)
    manifest = out / "manifest.csv"
    out_abs = Path(os.path.abspath(out))
    counts: dict[str, dict[str, int]] = {}
    fraction_sum: dict[str, float] = {}
    n_instructions = 0
    with atomic_open(manifest, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=MANIFEST_COLUMNS)
        writer.writeheader()
        measured = parallel_map(measure_record, records, workers=workers, chunksize=32)
        for record, (w, h, fraction, error) in tqdm(
            zip(records, measured), total=len(records), desc=f"index {dataset}", disable=_off(progress)
        ):
            if error:
                problems.append(error)
                continue
            text = _instruction(record, instructions) if instructions else ""
            n_instructions += bool(text)
            writer.writerow(
                {
                    "split": record.split,
                    "name": record.name,
                    "image": _rel(record.image, out_abs),
                    "mask": _rel(record.mask, out_abs),
                    "original": _rel(record.original, out_abs),
                    "label": record.label,
                    "tag": record.tag,
                    "width": w,
                    "height": h,
                    "edited_fraction": f"{fraction:.6f}",
                    "instruction": text,
                }
            )
            c = counts.setdefault(record.split or "(none)", {"edited": 0, "authentic": 0})
            c["edited" if record.label == 1 else "authentic"] += 1
            if record.label == 1:
                fraction_sum[record.split or "(none)"] = (
                    fraction_sum.get(record.split or "(none)", 0.0) + fraction
                )
    splits = {
        s: {
            **c,
            "mean_edited_fraction": round(fraction_sum.get(s, 0.0) / c["edited"], 6) if c["edited"] else None,
        }
        for s, c in sorted(counts.items())
    }
    summary = {
        "dataset": dataset,
        "sources": list(sources),
        "manifest": manifest.name,
        "splits": splits,
        "total": {
            "edited": sum(c["edited"] for c in counts.values()),
            "authentic": sum(c["authentic"] for c in counts.values()),
        },
        "instructions_attached": n_instructions,
        "problems": problems,
    }
    summary_path = out / "summary.json"
    write_json(summary_path, summary)
    return PrepareResult(manifest=manifest, summary_path=summary_path, summary=summary, problems=problems)


# ----------------------------------------------------------------------------- datasets


def prepare_deal300k(
    src: Sequence[str | Path],
    out: str | Path,
    *,
    instructions: str | Path | None = None,
    workers: int | None = None,
    progress: bool | None = None,
) -> PrepareResult:
    """Prepare DEAL-300K from its zips and/or extracted folders (see the module docstring).

    Edited images without a mask are reported as problems; masks without an edited image (e.g.
    label.zip holds every split's masks but only train.zip was given) are ignored with a note on
    stderr; the rest is written.
    """
    from deal.data import scan_deal300k

    out = Path(out)
    roots = _sources(src, out, progress)
    scan = scan_deal300k(*roots)
    problems = [f"edited image without mask: {p}" for p in scan.missing_masks]
    if scan.orphan_masks:  # e.g. label.zip covers splits whose image zips were not given: a note only
        print(
            f"note: {len(scan.orphan_masks)} mask(s) without an edited image ignored, e.g. {scan.orphan_masks[0]}",
            file=sys.stderr,
        )
    table = load_instructions(instructions) if instructions is not None else None
    return write_manifest(
        scan.records,
        out,
        dataset="deal300k",
        sources=[str(s) for s in src],
        problems=problems,
        instructions=table,
        workers=workers,
        progress=progress,
    )


def find_cocoglide_root(folder: Path, max_depth: int = 3) -> Path:
    """``folder`` or the shallowest subfolder (up to ``max_depth`` down) with CoCoGlide's
    ``fake/`` + ``mask/`` folders."""
    from deal.data import DatasetError
    from deal.data.cocoglide import is_cocoglide_root

    level = [folder]
    for _ in range(max_depth + 1):
        for d in level:
            if is_cocoglide_root(d):
                return d
        level = sorted(c for d in level for c in d.iterdir() if c.is_dir() and not c.name.startswith("."))
    raise DatasetError(f"no CoCoGlide folder (fake/ + mask/ + real/) in {folder} or {max_depth} levels below")


def prepare_cocoglide(
    src: str | Path, out: str | Path, *, workers: int | None = None, progress: bool | None = None
) -> PrepareResult:
    """Prepare CoCoGlide from ``CocoGlide.zip`` or its folder (see the module docstring)."""
    from deal.data import DatasetError, load_cocoglide

    out = Path(out)
    (root, *more) = _sources([src], out, progress)
    if more:
        raise DatasetError(f"{src} holds several zips; pass CocoGlide.zip itself as --src")
    records = load_cocoglide(find_cocoglide_root(root))
    return write_manifest(
        records, out, dataset="cocoglide", sources=[str(src)], problems=[], workers=workers, progress=progress
    )


# ----------------------------------------------------------------------------- CLI


def format_summary(summary: dict[str, Any]) -> str:
    """The printed table: edited / authentic counts per split, then problems."""
    lines = [f"{'split':<8} {'edited':>8} {'authentic':>10} {'mean edited fraction':>21}"]
    for split, c in summary["splits"].items():
        frac = "" if c["mean_edited_fraction"] is None else f"{c['mean_edited_fraction']:.4f}"
        lines.append(f"{split:<8} {c['edited']:>8} {c['authentic']:>10} {frac:>21}")
    t = summary["total"]
    lines.append(f"{'total':<8} {t['edited']:>8} {t['authentic']:>10}")
    if summary.get("instructions_attached"):
        lines.append(f"instructions attached: {summary['instructions_attached']}")
    if summary["problems"]:
        from deal.data.paths import list_names

        lines.append(f"{len(summary['problems'])} problem(s): {list_names(summary['problems'], limit=5)}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", choices=DATASETS, help="which dataset the sources are")
    parser.add_argument(
        "--src",
        nargs="+",
        required=True,
        metavar="PATH",
        help="zip file(s), a folder of zips, or extracted folder(s) (cocoglide: CocoGlide.zip or its folder)",
    )
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="output folder (manifest.csv, summary.json, files/)"
    )
    parser.add_argument(
        "--instructions",
        metavar="DIR",
        default=None,
        help="deal300k: folder of checkpoint-NNN_*_results.json files (adds the instruction column)",
    )
    add_workers_argument(parser)


def run(args: argparse.Namespace) -> int:
    from deal.data import DatasetError
    from deal.errors import UsageError

    if args.dataset == "cocoglide" and (args.instructions or len(args.src) != 1):
        raise UsageError("cocoglide takes one --src (CocoGlide.zip or its folder) and no --instructions")
    try:
        if args.dataset == "deal300k":
            result = prepare_deal300k(
                args.src, args.out, instructions=args.instructions, workers=args.workers
            )
        else:
            result = prepare_cocoglide(args.src[0], args.out, workers=args.workers)
    except DatasetError as err:
        print(f"deal data prepare: error: {err}", file=sys.stderr)
        return 1
    print(format_summary(result.summary))
    print(f"wrote {result.manifest} and {result.summary_path}")
    return 1 if result.problems else 0
