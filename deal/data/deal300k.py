"""DEAL-300K: pair edited images, masks and originals by file NAME, searching folders recursively.

The folder layout inside the distribution zips (train.zip, val.zip, test.zip, label.zip) is not
documented, so nothing here assumes folder names. The names are::

    <coco>_<tag>.jpg   edited image (InstructPix2Pix), label 1      e.g. 000000000009_qwen120.jpg
    <coco>_<tag>.png   its mask (255 = edited)                      e.g. 000000000009_qwen120.png
    <coco>.jpg         the unedited MS-COCO original, label 0       e.g. 000000000009.jpg

``<coco>`` is the zero-padded COCO id (digits), ``<tag>`` a letters+digits tag (``qwen120``: the
Qwen-VL checkpoint that wrote the instruction). An edited-stem file with a ``.png`` suffix is the
mask, with any other image suffix the edited image. The split is the outermost folder named
``train``/``val``/``test`` from the root's own name down to the file (see
:func:`deal.data.paths.split_from_path`), else "".

An edited image whose mask is missing is an error that lists the names (``on_missing_mask="skip"``
drops them instead, with a warning; :func:`scan_deal300k` returns them for ``deal data doctor``).
Masks without an edited image are ignored (returned by :func:`scan_deal300k`).
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from deal.data.errors import DatasetError
from deal.data.paths import iter_image_files, list_names, split_from_path
from deal.data.sample import Record

EDITED_STEM = re.compile(r"^(?P<coco>\d+)_(?P<tag>[A-Za-z]+\d*)$")
ORIGINAL_STEM = re.compile(r"^\d+$")
MASK_SUFFIX = ".png"


@dataclass
class Deal300kScan:
    """What a DEAL-300K scan found: the records plus the files that did not pair."""

    records: list[Record] = field(default_factory=list)
    missing_masks: list[str] = field(default_factory=list)  # edited image paths without a mask
    orphan_masks: list[str] = field(default_factory=list)  # mask paths without an edited image


def _index(roots: list[Path]) -> tuple[dict[str, list[tuple[Path, Path]]], ...]:
    edited: dict[str, list[tuple[Path, Path]]] = {}
    masks: dict[str, list[tuple[Path, Path]]] = {}
    originals: dict[str, list[tuple[Path, Path]]] = {}
    seen: set[str] = set()
    for root in roots:
        for path in iter_image_files(root):
            key = os.path.abspath(path)  # not resolve(): symlinked files are distinct samples
            if key in seen:
                continue
            seen.add(key)
            stem = path.stem
            if EDITED_STEM.match(stem):
                target = masks if path.suffix.lower() == MASK_SUFFIX else edited
            elif ORIGINAL_STEM.match(stem):
                target = originals
            else:
                continue
            target.setdefault(stem, []).append((path, root))
    return edited, masks, originals


def _unique(index: dict[str, list[tuple[Path, Path]]], kind: str) -> dict[str, tuple[Path, Path]]:
    dups = {stem: found for stem, found in index.items() if len(found) > 1}
    if dups:
        listed = list_names(f"{stem} ({', '.join(str(p) for p, _ in found)})" for stem, found in dups.items())
        raise DatasetError(f"{len(dups)} DEAL-300K {kind} name(s) occur more than once: {listed}")
    return {stem: found[0] for stem, found in index.items()}


def scan_deal300k(*roots: str | Path) -> Deal300kScan:
    """Find and pair every DEAL-300K file under the ``roots`` (image and label folders, or
    extracted zips), recursively; a file reached from two roots counts once.

    Returns edited records (label 1, mask, ``original`` set when ``<coco>.jpg`` was found, ``tag``)
    sorted by name, then authentic records for the originals (label 0, no mask) sorted by name,
    plus the unpaired files.

    Raises:
        DatasetError: a root is not a folder, or a name occurs twice (ambiguous pairing).
    """
    paths = [Path(r) for r in roots]
    if not paths:
        raise DatasetError("scan_deal300k needs at least one folder")
    for r in paths:
        if not r.is_dir():
            raise DatasetError(f"DEAL-300K root is not a folder: {r}")
    edited_idx, mask_idx, original_idx = _index(paths)
    edited = _unique(edited_idx, "edited image")
    masks = _unique(mask_idx, "mask")
    originals = _unique(original_idx, "original image")

    scan = Deal300kScan()
    for stem in sorted(edited):
        path, base = edited[stem]
        m = EDITED_STEM.match(stem)
        assert m is not None
        if stem not in masks:
            scan.missing_masks.append(str(path))
            continue
        original = originals.get(m["coco"])
        scan.records.append(
            Record(
                image=str(path),
                mask=str(masks[stem][0]),
                label=1,
                name=stem,
                split=split_from_path(path, base),
                original=str(original[0]) if original else None,
                tag=m["tag"],
            )
        )
    for stem in sorted(originals):
        path, base = originals[stem]
        scan.records.append(
            Record(image=str(path), mask=None, label=0, name=stem, split=split_from_path(path, base))
        )
    scan.orphan_masks = sorted(str(p) for stem, (p, _) in masks.items() if stem not in edited)
    return scan


def load_deal300k(
    root: str | Path,
    label_root: str | Path | None = None,
    *,
    on_missing_mask: Literal["error", "skip"] = "error",
    include_authentic: bool = True,
) -> list[Record]:
    """DEAL-300K records under ``root`` (images, and masks unless in ``label_root``), by name.

    Args:
        root: folder searched recursively for edited images, originals and masks.
        label_root: optional separate folder of masks (also searched recursively).
        on_missing_mask: ``"error"`` (default) raises listing the edited images without a mask;
            ``"skip"`` drops them with a warning.
        include_authentic: also return the originals as authentic (label 0) records.

    Raises:
        DatasetError: nothing DEAL-300K-like found, missing masks (by default), duplicate names.
    """
    scan = scan_deal300k(root, *([label_root] if label_root is not None else []))
    where = f"{root}" + (f" and {label_root}" if label_root is not None else "")
    if scan.missing_masks:
        msg = f"{len(scan.missing_masks)} DEAL-300K edited image(s) have no mask <coco>_<tag>.png under {where}: "
        msg += list_names(Path(p).name for p in scan.missing_masks)
        if on_missing_mask == "error":
            raise DatasetError(msg)
        warnings.warn(msg + " (skipped)", stacklevel=2)
    if not any(r.label == 1 for r in scan.records):
        n_orig = len(scan.records)
        raise DatasetError(
            f"no DEAL-300K edited images under {where}: looked (recursively) for edited <coco>_<tag>.jpg with "
            f"a mask <coco>_<tag>.png (<coco> = digits, <tag> like qwen120); found {n_orig} original(s) "
            f"<coco>.jpg and {len(scan.orphan_masks)} mask(s) without an image"
        )
    return scan.records if include_authentic else [r for r in scan.records if r.label == 1]
