"""Two generic layouts: an ``images/`` + ``masks/`` folder, and a manifest CSV.

Folder layout (``root`` itself, or one such pair per split folder ``root/{train,val,test}/``)::

    images/<rel>.<ext>          every image (subfolders allowed)
    masks/<rel>[_mask|_gt].png  its mask, same relative path and stem; absent or empty -> authentic

Manifest CSV: a header row with at least ``image``; optional ``mask`` (empty = none), ``label``
(1/0; default 1 when a mask is given, else 0), ``split``, ``name`` (default: the image stem, or the
relative path where stems collide), ``original`` and ``tag``. Other columns are ignored. Relative
paths are relative to the CSV's folder. ``deal data prepare`` writes this format.
"""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

from deal.data.errors import DatasetError
from deal.data.io import MASK_THRESHOLD, mask_values
from deal.data.paths import SPLITS, iter_image_files, list_names, resolve, unique_names
from deal.data.sample import Record

IMAGES_DIR = "images"
MASKS_DIR = "masks"
MASK_STEM_SUFFIXES: tuple[str, ...] = ("_mask", "_gt")
MANIFEST_REQUIRED: tuple[str, ...] = ("image",)
MANIFEST_OPTIONAL: tuple[str, ...] = ("mask", "label", "split", "name", "original", "tag")


def _key(path: Path, base: Path, strip: tuple[str, ...] = ()) -> str:
    key = path.relative_to(base).with_suffix("").as_posix()
    for suffix in strip:
        if key.endswith(suffix):
            return key[: -len(suffix)]
    return key


def folder_splits(root: Path) -> list[tuple[Path, str]]:
    """The ``(folder, split)`` pairs of a generic layout: ``[(root, "")]`` when ``root`` has
    ``images/`` and ``masks/``, else its ``train``/``val``/``test`` subfolders that have them."""
    if (root / IMAGES_DIR).is_dir() and (root / MASKS_DIR).is_dir():
        return [(root, "")]
    return [
        (root / s, s) for s in SPLITS if (root / s / IMAGES_DIR).is_dir() and (root / s / MASKS_DIR).is_dir()
    ]


def _has_edit(mask: Path) -> bool:
    return bool((mask_values(mask) > MASK_THRESHOLD).any())


def load_image_mask_folder(root: str | Path) -> list[Record]:
    """Records of an ``images/`` + ``masks/`` folder (or one per split subfolder).

    An image whose mask is missing or has no pixel above 127 is authentic (label 0, mask None);
    the masks are read once to tell. Masks without an image are ignored with a warning.

    Raises:
        DatasetError: no ``images/`` + ``masks/`` folders, or no images in them.
    """
    root = Path(root)
    parts = folder_splits(root)
    if not parts:
        raise DatasetError(
            f"{root} is not an images/ + masks/ folder: looked for {root}/images and {root}/masks "
            f"(or {root}/<split>/images and masks for split in {', '.join(SPLITS)})"
        )
    records: list[Record] = []
    for folder, split in parts:
        images = iter_image_files(folder / IMAGES_DIR)
        masks = {
            _key(m, folder / MASKS_DIR, MASK_STEM_SUFFIXES): m for m in iter_image_files(folder / MASKS_DIR)
        }
        keys = {_key(p, folder / IMAGES_DIR) for p in images}
        orphans = sorted(str(m) for k, m in masks.items() if k not in keys)
        if orphans:
            warnings.warn(
                f"{len(orphans)} mask(s) without an image ignored: {list_names(orphans)}", stacklevel=2
            )
        names = unique_names(images, folder / IMAGES_DIR)
        for path, name in zip(images, names):
            mask = masks.get(_key(path, folder / IMAGES_DIR))
            edited = mask is not None and _has_edit(mask)
            records.append(
                Record(
                    image=str(path),
                    mask=str(mask) if edited else None,
                    label=int(edited),
                    name=f"{split}/{name}" if split else name,
                    split=split,
                )
            )
    if not records:
        raise DatasetError(f"no images found under {root}/**/{IMAGES_DIR}")
    return records


def _label(text: str, mask: str, where: str) -> int:
    if text.strip() == "":
        return 1 if mask else 0
    try:
        value = int(float(text))
    except ValueError:
        value = -1
    if value not in (0, 1):
        raise DatasetError(f"{where}: label must be 0 or 1, got {text!r}")
    return value


def load_manifest(csv_path: str | Path) -> list[Record]:
    """Records of a manifest CSV (see the module docstring for the columns).

    Raises:
        DatasetError: missing file or ``image`` column, a bad label, an edited row (label 1)
            without a mask, or duplicate names.
    """
    csv_path = Path(csv_path)
    base = csv_path.parent
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            missing = [c for c in MANIFEST_REQUIRED if c not in header]
            if missing:
                raise DatasetError(
                    f"manifest {csv_path} lacks column(s) {', '.join(missing)} (has: {', '.join(header) or 'nothing'}); "
                    f"required: {', '.join(MANIFEST_REQUIRED)}; optional: {', '.join(MANIFEST_OPTIONAL)}"
                )
            rows = list(reader)
    except OSError as err:
        raise DatasetError(f"cannot read manifest {csv_path}: {err}") from err

    images = [resolve(r["image"], base) for r in rows]
    default_names = unique_names(images, base)
    records = []
    for i, (row, image, default_name) in enumerate(zip(rows, images, default_names)):
        where = f"{csv_path} row {i + 2}"
        if not (row.get("image") or "").strip():
            raise DatasetError(f"{where}: empty image path")
        mask = (row.get("mask") or "").strip()
        label = _label(row.get("label") or "", mask, where)
        if label == 1 and not mask:
            raise DatasetError(f"{where}: label 1 (edited) but no mask for {row['image']}")
        original = (row.get("original") or "").strip()
        records.append(
            Record(
                image=str(image),
                mask=str(resolve(mask, base)) if mask else None,
                label=label,
                name=(row.get("name") or "").strip() or default_name,
                split=(row.get("split") or "").strip(),
                original=str(resolve(original, base)) if original else None,
                tag=(row.get("tag") or "").strip(),
            )
        )
    seen: dict[str, int] = {}
    dups = []
    for r in records:
        seen[r.name] = seen.get(r.name, 0) + 1
        if seen[r.name] == 2:
            dups.append(r.name)
    if dups:
        raise DatasetError(
            f"manifest {csv_path}: {len(dups)} name(s) occur more than once: {list_names(dups)}"
        )
    return records
