"""``deal data doctor DIR|manifest.csv``: find what is wrong with a dataset before training on it.

Checks, each reported with its count and the files involved:

* ``missing_files``: a record's image, mask or original that does not exist (manifest rows).
* ``missing_masks``: DEAL-300K edited images with no ``<coco>_<tag>.png`` mask.
* ``unreadable``: images, masks or originals (the unedited source of an edit, the objectness control's
  input) that deal's decoder cannot read.
* ``size_mismatch``: a mask, or an original, whose size differs from its image.
* ``non_binary_masks``: more than ``non_binary_share`` (default 1%) of the mask's pixels lie
  between 10 and 245 (0/255 masks with a few anti-aliased edge pixels pass; JPEG-saved or soft
  masks do not).
* ``inverted_masks``: the mask looks inverted: more than half of it is marked edited AND more than
  75% of its outermost one-pixel frame is marked edited. Edits are objects inside the picture, so
  a mask that is mostly "edited" *including* nearly all of the image border has probably swapped
  polarity (255 = untouched). Large real edits rarely cover the whole frame (CoCoGlide's largest,
  97% of the image, marks 47% of the frame).
* ``empty_masks``: an edited (label 1) image whose mask has no pixel above 127.
* ``exact_duplicates``: distinct image files with identical bytes (sha256), in any split.
* ``near_duplicates``: images in different (non-empty) splits whose perceptual hashes
  (``imagehash.phash``, 64 bits) differ in at most ``hash_distance`` bits (default 4): leakage.

Every check counts as a problem: the exit code is 1 when any is found, 0 otherwise. Files are
checked in a process pool; only hashes and a few numbers per file are kept.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from deal_data_tools.cli_common import add_workers_argument, parallel_map

from deal.fileio import write_json

CHECKS: tuple[str, ...] = (
    "missing_files",
    "missing_masks",
    "unreadable",
    "size_mismatch",
    "non_binary_masks",
    "inverted_masks",
    "empty_masks",
    "exact_duplicates",
    "near_duplicates",
)
SOFT_LOW, SOFT_HIGH = 10, 245  # mask values strictly between "black-ish" and "white-ish"
TEXT_LISTED = 20  # findings listed per check in the text report
# deal.data.DATASET_LAYOUTS' names, spelled out so building the parser imports nothing (tested equal).
LAYOUT_CHOICES: tuple[str, ...] = ("manifest", "benco", "cocoglide", "folder", "deal300k")


@dataclass(frozen=True)
class DoctorOptions:
    """Thresholds of the checks (see the module docstring)."""

    hash_distance: int = 4
    non_binary_share: float = 0.01
    inverted_fraction: float = 0.5
    inverted_border: float = 0.75

    def __post_init__(self) -> None:
        if not 0 <= self.hash_distance < 64:
            raise ValueError(f"hash_distance must be in [0, 63], got {self.hash_distance}")
        if not 0 <= self.non_binary_share <= 1:
            raise ValueError(f"non_binary_share must be in [0, 1], got {self.non_binary_share}")


@dataclass
class FileCheck:
    """What one worker found for one record (small: no pixels kept)."""

    image: str
    mask: str | None
    label: int
    split: str
    original: str | None = None
    image_error: str = ""
    mask_error: str = ""
    original_error: str = ""
    image_hw: tuple[int, int] | None = None
    mask_hw: tuple[int, int] | None = None
    original_hw: tuple[int, int] | None = None
    sha256: str = ""
    phash: int = 0
    edited_fraction: float = 0.0
    border_share: float = 0.0
    soft_share: float = 0.0


@dataclass
class DoctorReport:
    """Findings per check (lists of small dicts naming files), plus what was checked."""

    path: str
    layout: str
    records: int
    options: DoctorOptions
    findings: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {c: [] for c in CHECKS})

    @property
    def counts(self) -> dict[str, int]:
        return {c: len(v) for c, v in self.findings.items()}

    @property
    def ok(self) -> bool:
        return not any(self.findings.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "layout": self.layout,
            "records": self.records,
            "options": asdict(self.options),
            "ok": self.ok,
            "counts": self.counts,
            "findings": self.findings,
        }


# ----------------------------------------------------------------------------- per file (worker)


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def phash_int(rgb: Any) -> int:
    """``imagehash.phash`` (64 bits) of an HxWx3 uint8 array, as an int."""
    import imagehash
    import numpy as np
    from PIL import Image

    bits = imagehash.phash(Image.fromarray(rgb)).hash.flatten()
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def _check_original(out: FileCheck) -> None:
    """An original is read as the control reads it (deal's decoder): its error, or its size."""
    from deal.data import DatasetError, read_image

    try:
        rgb = read_image(out.original)
        out.original_hw = (int(rgb.shape[0]), int(rgb.shape[1]))
    except (DatasetError, OSError) as err:
        out.original_error = str(err)


def check_file(task: tuple[str, str | None, int, str, str | None]) -> FileCheck:
    """Read one record's image, mask and original and measure them. Module-level for the process pool."""
    import numpy as np

    from deal.data import DatasetError, read_image
    from deal.data.io import MASK_THRESHOLD, mask_values

    image, mask, label, split, original = task
    out = FileCheck(image=image, mask=mask, label=label, split=split, original=original)
    try:
        rgb = read_image(image)
        out.image_hw = (int(rgb.shape[0]), int(rgb.shape[1]))
        out.sha256 = _sha256(image)
        out.phash = phash_int(rgb)
        del rgb
    except (DatasetError, OSError) as err:
        out.image_error = str(err)
    if original is not None:
        _check_original(out)
    if mask is None:
        return out
    try:
        values = mask_values(mask)
    except DatasetError as err:
        out.mask_error = str(err)
        return out
    out.mask_hw = (int(values.shape[0]), int(values.shape[1]))
    marked = values > MASK_THRESHOLD
    out.edited_fraction = float(marked.mean())
    frame = np.concatenate([marked[0], marked[-1], marked[1:-1, 0], marked[1:-1, -1]])
    out.border_share = float(frame.mean())
    out.soft_share = float(((values >= SOFT_LOW) & (values <= SOFT_HIGH)).mean())
    return out


def _size_finding(c: FileCheck, role: str, hw: tuple[int, int], file: str) -> dict[str, Any] | None:
    """The size_mismatch finding of a mask or an original whose size differs from its image's, else None."""
    if c.image_hw is None or hw == c.image_hw:
        return None
    (h, w), (ih, iw) = hw, c.image_hw
    return {"file": file, "image": c.image, "detail": f"{role} {w}x{h} vs image {iw}x{ih} (WxH)"}


def _mask_findings(c: FileCheck, f: dict[str, list[dict[str, Any]]], options: DoctorOptions) -> None:
    if c.mask is None:
        return
    if c.mask_error:
        f["unreadable"].append({"file": c.mask, "detail": c.mask_error})
        return
    if finding := _size_finding(c, "mask", c.mask_hw, c.mask):
        f["size_mismatch"].append(finding)
    if c.soft_share > options.non_binary_share:
        f["non_binary_masks"].append({"file": c.mask, "soft_share": round(c.soft_share, 6)})
    if c.edited_fraction > options.inverted_fraction and c.border_share > options.inverted_border:
        f["inverted_masks"].append(
            {
                "file": c.mask,
                "edited_fraction": round(c.edited_fraction, 6),
                "border_share": round(c.border_share, 6),
            }
        )
    if c.label == 1 and c.edited_fraction == 0.0:
        f["empty_masks"].append({"file": c.mask, "image": c.image})


def _original_findings(c: FileCheck, f: dict[str, list[dict[str, Any]]]) -> None:
    if c.original is None:
        return
    if c.original_error:
        f["unreadable"].append({"file": c.original, "detail": c.original_error, "role": "original"})
    elif c.original_hw is not None and (finding := _size_finding(c, "original", c.original_hw, c.original)):
        f["size_mismatch"].append(finding)


# ----------------------------------------------------------------------------- near duplicates


def near_duplicate_pairs(
    hashes: Sequence[int], groups: Sequence[str], max_distance: int
) -> list[tuple[int, int, int]]:
    """Index pairs ``(i, j, distance)``, ``i < j``, whose 64-bit hashes differ in at most
    ``max_distance`` bits and whose ``groups`` differ (empty groups never match).

    Multi-index hashing, by hand because no maintained library indexes Hamming distance over
    packed 64-bit hashes: split the bits into ``max_distance + 1`` bands; two hashes within
    ``max_distance`` bits agree exactly on at least one band (pigeonhole), so only hashes that share
    a band value are compared. Linear memory, near-linear time on natural images.
    """
    import numpy as np

    n_bands = max_distance + 1
    bounds = np.linspace(0, 64, n_bands + 1).astype(int)
    h = np.asarray(hashes, dtype=np.uint64)
    found: dict[tuple[int, int], int] = {}
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        band = (h >> np.uint64(lo)) & np.uint64((1 << (hi - lo)) - 1)
        buckets: dict[int, list[int]] = defaultdict(list)
        for i, b in enumerate(band.tolist()):
            if groups[i]:
                buckets[b].append(i)
        for members in buckets.values():
            if len(members) < 2 or len({groups[i] for i in members}) < 2:
                continue
            idx = np.asarray(members)
            for row, i in enumerate(members[:-1]):
                rest = idx[row + 1 :]
                dist = np.bitwise_count(h[rest] ^ h[i])
                for j, d in zip(rest[dist <= max_distance].tolist(), dist[dist <= max_distance].tolist()):
                    if groups[i] != groups[j]:
                        found[(min(i, j), max(i, j))] = int(d)
    return sorted((i, j, d) for (i, j), d in found.items())


# ----------------------------------------------------------------------------- the doctor


def _load(path: Path, layout: str | None) -> tuple[str, list[Any], list[str]]:
    from deal.data import DATASET_LAYOUTS, DatasetError, detect_layout, scan_deal300k

    layout = layout or detect_layout(path)
    if layout not in DATASET_LAYOUTS:
        raise DatasetError(f"unknown dataset layout {layout!r}; choose one of {', '.join(DATASET_LAYOUTS)}")
    if layout == "deal300k":  # scan, not load: missing masks are findings here, not an error
        scan = scan_deal300k(path)
        return layout, scan.records, scan.missing_masks
    return layout, DATASET_LAYOUTS[layout](path), []


def diagnose(
    path: str | Path,
    *,
    layout: str | None = None,
    options: DoctorOptions | None = None,
    workers: int | None = None,
    progress: bool | None = None,
) -> DoctorReport:
    """Run every check on the dataset at ``path`` (any :func:`deal.data.discover_records` layout).

    Raises:
        deal.data.DatasetError: the dataset cannot be loaded at all (the message says why).
    """
    from tqdm.auto import tqdm

    options = options or DoctorOptions()
    path = Path(path)
    layout, records, missing_masks = _load(path, layout)
    report = DoctorReport(path=str(path), layout=layout, records=len(records), options=options)
    f = report.findings
    f["missing_masks"] = [{"file": p} for p in missing_masks]

    tasks: list[tuple[str, str | None, int, str, str | None]] = []
    seen: set[str] = set()
    for r in records:
        absent = [
            (role, p) for role, p in (("image", r.image), ("mask", r.mask), ("original", r.original)) if p
        ]
        absent = [(role, p) for role, p in absent if not Path(p).is_file()]
        for role, p in absent:
            f["missing_files"].append({"file": p, "role": role, "record": r.name})
        roles = {role for role, _ in absent}
        if r.image in seen or "image" in roles:
            continue
        seen.add(r.image)
        original = None if "original" in roles else r.original
        tasks.append((r.image, None if "mask" in roles else r.mask, r.label, r.split, original))

    by_sha: dict[str, list[int]] = defaultdict(list)
    hashed: list[tuple[str, str, int, str]] = []  # (image, split, phash, sha256) of readable images
    disable = None if progress is None else not progress
    results = parallel_map(check_file, tasks, workers=workers, chunksize=16)
    for c in tqdm(results, total=len(tasks), desc="doctor", disable=disable):
        if c.image_error:
            f["unreadable"].append({"file": c.image, "detail": c.image_error})
        else:
            by_sha[c.sha256].append(len(hashed))
            hashed.append((c.image, c.split, c.phash, c.sha256))
        _original_findings(c, f)
        _mask_findings(c, f, options)

    for idx in by_sha.values():
        if len(idx) > 1:
            f["exact_duplicates"].append(
                {
                    "files": [hashed[i][0] for i in idx],
                    "splits": [hashed[i][1] for i in idx],
                    "sha256": hashed[idx[0]][3],
                }
            )
    pairs = near_duplicate_pairs([h[2] for h in hashed], [h[1] for h in hashed], options.hash_distance)
    for i, j, d in pairs:
        if hashed[i][3] == hashed[j][3]:
            continue  # already an exact duplicate
        f["near_duplicates"].append(
            {"files": [hashed[i][0], hashed[j][0]], "splits": [hashed[i][1], hashed[j][1]], "distance": d}
        )
    return report


def format_report(report: DoctorReport) -> str:
    """The text report: one section per check with findings, then a verdict line."""
    lines = [f"dataset: {report.path} (layout {report.layout}, {report.records} records)"]
    for check, items in report.findings.items():
        lines.append(f"{check}: {len(items)}")
        for item in items[:TEXT_LISTED]:
            files = item.get("files") or [item["file"]]
            extra = {k: v for k, v in item.items() if k not in ("file", "files", "sha256")}
            lines.append("  " + " | ".join(files) + (f"  {extra}" if extra else ""))
        if len(items) > TEXT_LISTED:
            lines.append(f"  ... and {len(items) - TEXT_LISTED} more (see --json)")
    n = sum(report.counts.values())
    lines.append("OK: no problems found" if report.ok else f"PROBLEMS: {n} finding(s)")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path", metavar="DIR|manifest.csv", help="dataset folder, manifest CSV or IMDL-BenCo JSON"
    )
    parser.add_argument(
        "--layout", default=None, choices=LAYOUT_CHOICES, help="force a layout (default: detect)"
    )
    parser.add_argument("--json", metavar="FILE", default=None, help="also write the findings as JSON")
    parser.add_argument(
        "--hash-distance",
        type=int,
        default=4,
        metavar="BITS",
        help="near-duplicate phash distance (default 4)",
    )
    parser.add_argument(
        "--non-binary-share",
        type=float,
        default=0.01,
        metavar="SHARE",
        help="share of mask pixels in 10..245 above which a mask is non-binary (default 0.01)",
    )
    add_workers_argument(parser)


def run(args: argparse.Namespace) -> int:
    from deal.data import DatasetError
    from deal.errors import UsageError

    if not Path(args.path).exists():
        raise UsageError(f"no such file or folder: {args.path}")
    try:
        options = DoctorOptions(hash_distance=args.hash_distance, non_binary_share=args.non_binary_share)
    except ValueError as err:
        raise UsageError(str(err)) from err
    try:
        report = diagnose(args.path, layout=args.layout, options=options, workers=args.workers)
    except DatasetError as err:
        print(f"deal data doctor: cannot load {args.path}: {err}", file=sys.stderr)
        return 1
    print(format_report(report))
    if args.json:
        write_json(args.json, report.to_dict())
    return 0 if report.ok else 1
