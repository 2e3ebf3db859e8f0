"""Turn any supported dataset path into records: detect its layout, load it, filter by split.

Detection order for ``discover_records(path)``:

1. a ``.csv`` file, or a folder holding ``manifest.csv`` (what ``deal data prepare`` writes): manifest;
2. a ``.json`` file: IMDL-BenCo list;
3. a folder with ``fake/`` + ``mask/`` holding GLIDE images: CoCoGlide;
4. a folder with ``images/`` + ``masks/`` (or ``<split>/images`` + ``<split>/masks``): generic folder;
5. any other folder: DEAL-300K name pairing, recursively.

Split filter: records whose ``split`` equals ``split``. When the layout carries no split at all
(every record has split ""), the filter cannot apply: all records are returned with a warning.
When it empties a layout that does carry splits, it is an error listing the splits found.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from deal.data.benco import load_benco_json
from deal.data.cocoglide import is_cocoglide_root, load_cocoglide
from deal.data.deal300k import load_deal300k
from deal.data.errors import DatasetError
from deal.data.generic import folder_splits, load_image_mask_folder, load_manifest
from deal.data.sample import Record

MANIFEST_NAME = "manifest.csv"


def _manifest(path: Path) -> list[Record]:
    return load_manifest(path / MANIFEST_NAME if path.is_dir() else path)


# Layout name -> loader taking the path; the names are the choices of ``--layout``.
DATASET_LAYOUTS: dict[str, Callable[[Path], list[Record]]] = {
    "manifest": _manifest,
    "benco": load_benco_json,
    "cocoglide": load_cocoglide,
    "folder": load_image_mask_folder,
    "deal300k": load_deal300k,
}

_LOOKED_FOR = (
    "a manifest .csv (or a folder with manifest.csv), an IMDL-BenCo .json, a CoCoGlide folder "
    "(fake/ + mask/ + real/), an images/ + masks/ folder, or DEAL-300K files (<coco>_<tag>.jpg + "
    "<coco>_<tag>.png + <coco>.jpg, searched recursively)"
)


def detect_layout(path: str | Path) -> str:
    """The :data:`DATASET_LAYOUTS` name of ``path`` (see the module docstring for the order).

    Raises:
        DatasetError: the path does not exist, or is a file of an unknown kind.
    """
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"dataset path does not exist: {path}")
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".csv":
            return "manifest"
        if suffix == ".json":
            return "benco"
        raise DatasetError(f"{path} is a {suffix or 'suffix-less'} file; expected {_LOOKED_FOR}")
    if (path / MANIFEST_NAME).is_file():
        return "manifest"
    if is_cocoglide_root(path):
        return "cocoglide"
    if folder_splits(path):
        return "folder"
    return "deal300k"


def filter_split(records: list[Record], split: str | None, source: str | Path = "") -> list[Record]:
    """``records`` of ``split`` (all when ``split`` is None or no record has a split; see module doc).

    Raises:
        DatasetError: no record has that split although the records carry splits.
    """
    if split is None:
        return records
    counts = Counter(r.split for r in records)
    if set(counts) == {""}:
        warnings.warn(
            f"{source} has no split information; split={split!r} ignored, using all records", stacklevel=3
        )
        return records
    kept = [r for r in records if r.split == split]
    if not kept:
        found = ", ".join(f"{s or '(none)'}: {n}" for s, n in sorted(counts.items()))
        raise DatasetError(f"no records of split {split!r} in {source} (found {found})")
    return kept


def discover_records(
    path: str | Path, split: str | None = None, *, layout: str | None = None
) -> list[Record]:
    """Records of the dataset at ``path``, its layout detected (or forced with ``layout``, one of
    :data:`DATASET_LAYOUTS`), filtered to ``split`` (``"train"``, ``"val"``, ``"test"``) when given.

    Raises:
        DatasetError: unknown layout name, nothing usable at ``path`` (the message lists what was
            looked for), or a loader's error (naming the file).
    """
    path = Path(path)
    if layout is None:
        layout = detect_layout(path)
        detected = True
    else:
        if layout not in DATASET_LAYOUTS:
            raise DatasetError(
                f"unknown dataset layout {layout!r}; choose one of {', '.join(DATASET_LAYOUTS)}"
            )
        if not path.exists():
            raise DatasetError(f"dataset path does not exist: {path}")
        detected = False
    try:
        records = DATASET_LAYOUTS[layout](path)
    except DatasetError as err:
        if detected and layout == "deal300k" and str(err).startswith("no DEAL-300K"):
            raise DatasetError(f"no dataset recognized at {path}: looked for {_LOOKED_FOR}. {err}") from err
        raise
    return filter_split(records, split, path)
