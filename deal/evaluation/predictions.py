"""Probability maps written by any tool, found by name and read as ``HxW`` float32 in [0, 1].

Accepted files (searched recursively under the prediction folder; hidden folders skipped):

* ``<name>.npy``: a float array, ``HxW`` (or ``1xHxW``, ``1x1xHxW``, ``HxWx1``), values in [0, 1];
* ``<name>.png``: single channel (or channels that are all equal; alpha ignored); 8-bit values
  are divided by 255, 16-bit values by 65535;
* ``<name>.npz``: TruFor's output: key ``"map"`` (the localization map) and, when present,
  ``"score"`` (the image score, used for image-level AUC / balanced accuracy).

``<name>`` is the record's ``name``, as a path relative to the prediction folder or as a file
stem anywhere below it, else the stem of the record's image file. Two candidate files for one
record (``x.png`` and ``x.npy``, or ``a/x.png`` and ``b/x.png``) are an error naming both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from deal.data.paths import list_names
from deal.data.sample import Record

PREDICTION_SUFFIXES: tuple[str, ...] = (".npy", ".png", ".npz")


class PredictionError(ValueError):
    """A prediction file is missing, ambiguous or unusable; the message names the file(s)."""


@dataclass(frozen=True)
class Prediction:
    """One image's prediction: ``probs`` is ``HxW`` float32 in [0, 1]; ``score`` None when the file has none."""

    probs: np.ndarray
    score: float | None
    path: Path


class PredictionIndex:
    """Every prediction file under ``root``, looked up by record (see the module docstring)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise PredictionError(f"prediction folder does not exist: {self.root}")
        self.by_relpath: dict[str, list[Path]] = {}
        self.by_stem: dict[str, list[Path]] = {}
        for path in sorted(self.root.rglob("*")):
            rel = path.relative_to(self.root)
            if (
                any(part.startswith(".") for part in rel.parts)
                or path.suffix.lower() not in PREDICTION_SUFFIXES
            ):
                continue
            if not path.is_file():
                continue
            self.by_relpath.setdefault(rel.with_suffix("").as_posix(), []).append(path)
            self.by_stem.setdefault(path.stem, []).append(path)

    def __len__(self) -> int:
        return sum(len(paths) for paths in self.by_stem.values())

    def find(self, record: Record) -> Path | None:
        """The prediction file of ``record``, or None when there is none.

        Raises:
            PredictionError: more than one file matches.
        """
        for key in (record.name, Path(record.image).stem):
            for index in (self.by_relpath, self.by_stem):
                found = index.get(key)
                if found is None:
                    continue
                if len(found) > 1:
                    raise PredictionError(
                        f"{len(found)} prediction files match {record.name!r}: {', '.join(map(str, found))}"
                    )
                return found[0]
        return None

    def resolve(self, records: list[Record]) -> list[Path]:
        """The prediction file of every record, in order.

        Raises:
            PredictionError: some records have no prediction (their names listed) or an ambiguous one.
        """
        found = [self.find(r) for r in records]
        missing = [r.name for r, p in zip(records, found) if p is None]
        if missing:
            raise PredictionError(
                f"{len(missing)} of {len(records)} images have no prediction (.npy/.png/.npz named by image "
                f"name or stem) under {self.root}: {list_names(missing)}"
            )
        return [p for p in found if p is not None]


def _check_range(probs: np.ndarray, path: Path) -> np.ndarray:
    while probs.ndim > 2 and probs.shape[0] == 1:  # 1xHxW, 1x1xHxW
        probs = probs[0]
    if probs.ndim == 3 and probs.shape[2] == 1:  # HxWx1
        probs = probs[:, :, 0]
    if probs.ndim != 2:
        raise PredictionError(f"prediction {path} must be an HxW map, got shape {probs.shape}")
    if probs.dtype == np.bool_:
        probs = probs.astype(np.float32)
    if not np.issubdtype(probs.dtype, np.floating):
        raise PredictionError(f"prediction {path} must hold floats in [0, 1], got dtype {probs.dtype}")
    probs = probs.astype(np.float32, copy=False)
    if probs.size and not (np.isfinite(probs).all() and probs.min() >= 0.0 and probs.max() <= 1.0):
        raise PredictionError(
            f"prediction {path} must hold values in [0, 1], found min {np.nanmin(probs):g}, max {np.nanmax(probs):g}"
            + (" and NaN/inf" if not np.isfinite(probs).all() else "")
        )
    return probs


def _read_png(path: Path) -> np.ndarray:
    # np.fromfile + imdecode: OpenCV's imread cannot open non-ASCII paths on every platform.
    data = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if data is None:
        raise PredictionError(f"cannot decode prediction PNG {path}")
    if data.ndim == 3:
        if data.shape[2] in (2, 4):  # gray+alpha or BGRA: drop alpha
            data = data[:, :, :-1]
        if not (data == data[:, :, :1]).all():
            raise PredictionError(
                f"prediction PNG {path} has {data.shape[2]} different colour channels; save the probability "
                "map as a single-channel (grayscale) PNG"
            )
        data = data[:, :, 0]
    if data.dtype == np.uint8:
        return data.astype(np.float32) / 255.0
    if data.dtype == np.uint16:
        return data.astype(np.float32) / 65535.0
    raise PredictionError(f"prediction PNG {path} has unsupported dtype {data.dtype} (need 8 or 16 bit)")


def load_prediction(path: str | Path) -> Prediction:
    """Read one prediction file (``.npy``, ``.png`` or TruFor ``.npz``; see the module docstring).

    Raises:
        PredictionError: unreadable file, wrong shape or dtype, values outside [0, 1].
    """
    path = Path(path)
    suffix = path.suffix.lower()
    score: float | None = None
    try:
        if suffix == ".npy":
            probs = np.load(path, allow_pickle=False)
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                if "map" not in archive:
                    raise PredictionError(
                        f"prediction {path} has no 'map' array (found: {', '.join(archive.files) or 'nothing'})"
                    )
                probs = archive["map"]
                if "score" in archive:
                    score = float(np.asarray(archive["score"]).reshape(-1)[0])
        elif suffix == ".png":
            probs = _read_png(path)
        else:
            raise PredictionError(
                f"prediction {path}: unsupported suffix {suffix} (use {', '.join(PREDICTION_SUFFIXES)})"
            )
    except (OSError, ValueError) as err:
        if isinstance(err, PredictionError):
            raise
        raise PredictionError(f"cannot read prediction {path}: {err}") from err
    return Prediction(probs=_check_range(probs, path), score=score, path=path)
