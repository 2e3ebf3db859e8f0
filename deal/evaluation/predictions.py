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

``deal detect``'s own output folders are read as they are (the names come from
:func:`deal.report.outputs.output_name`, the one definition of them):

* its records (``results.jsonl``, and the ``<file name>.json`` sidecars) map each input image to its
  outputs; a record whose ``path`` is the record's image (or ends with the same file name and
  folders) gives the map: the ``npz`` output (exact float map and score) when saved, else the
  ``heatmap`` PNG (8-bit, value = round(255 p), read as value/255) with the record's ``score``;
* without records, ``<image file name>.npz`` and ``<image file name>.heatmap.png`` (``photo.png.npz``
  for ``photo.png``), the one whose folders match the image's best when several share the name.

A detect output is preferred to a file found by name or stem only when both exist.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from deal.data.paths import list_names
from deal.data.sample import Record
from deal.report.outputs import SUFFIXES, output_name

PREDICTION_SUFFIXES: tuple[str, ...] = (".npy", ".png", ".npz")
# deal detect's outputs that hold a probability map, best first (exact floats before 8-bit).
DETECT_MAP_KINDS: tuple[str, ...] = ("npz", "heatmap")
RESULTS_JSONL = "results.jsonl"
MISSING_HINT = (
    ".npy/.png/.npz named by image name or stem, or deal detect's npz/heatmap outputs "
    "(deal detect --save npz or heatmap)"
)


class PredictionError(ValueError):
    """A prediction file is missing, ambiguous or unusable; the message names the file(s)."""


@dataclass(frozen=True)
class Prediction:
    """One image's prediction: ``probs`` is ``HxW`` float32 in [0, 1]; ``score`` None when the file has none."""

    probs: np.ndarray
    score: float | None
    path: Path


@dataclass(frozen=True)
class Located:
    """Where one record's map is: the file, the image score its ``deal detect`` record gives (None
    otherwise; an npz's own score comes first), the detect record's image thresholds (low, high), how it
    was found and the detect record's pixel threshold."""

    path: Path
    score: float | None = None
    image_thresholds: tuple[float, float] | None = None
    source: str = "map file"
    threshold: float | None = None  # the detect record's pixel threshold


def _tail_match(a: Sequence[str], b: Sequence[str]) -> int:
    """How many trailing path components ``a`` and ``b`` share."""
    n = 0
    for x, y in zip(reversed(a), reversed(b)):
        if x != y:
            break
        n += 1
    return n


def _best_by_tail(image: Path, candidates: list[tuple[tuple[str, ...], Any]], what: str) -> Any:
    """The candidate whose path parts end like ``image``'s the most; PredictionError on a tie."""
    if len(candidates) == 1:
        return candidates[0][1]
    scored = sorted(
        ((_tail_match(parts, image.parts), parts, c) for parts, c in candidates), key=lambda t: -t[0]
    )
    if scored[0][0] > scored[1][0]:
        return scored[0][2]
    tied = ["/".join(parts) for n, parts, _ in scored if n == scored[0][0]]
    raise PredictionError(f"{len(tied)} {what} match {image}: {', '.join(tied)}")


def _detect_records(root: Path) -> Iterable[tuple[dict[str, Any], Path]]:
    """``(record, output folder)`` of every deal detect record under ``root``: results.jsonl lines, then
    the ``<name>.json`` sidecars of inputs they do not name (a run killed before rewriting results.jsonl;
    ``outputs["json"]`` says where the output folder is)."""
    named: set[Path] = set()  # the sidecars of records already read
    for jsonl in sorted(root.rglob(RESULTS_JSONL)):
        if any(part.startswith(".") for part in jsonl.relative_to(root).parts):
            continue
        try:
            lines = jsonl.read_text(encoding="utf-8").splitlines()
        except OSError as err:
            raise PredictionError(f"cannot read deal detect results {jsonl}: {err}") from err
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as err:
                raise PredictionError(f"{jsonl}, line {i + 1}: not a JSON record: {err}") from err
            if isinstance(record, dict) and "path" in record and "outputs" in record:
                own = (record.get("outputs") or {}).get("json")
                if own:
                    named.add(jsonl.parent / own)
                yield record, jsonl.parent
    for sidecar in sorted(root.rglob("*" + SUFFIXES["json"])):
        rel = sidecar.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not sidecar.is_file():
            continue
        if sidecar in named:
            continue  # its record was in results.jsonl: not read twice
        try:
            record = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # not a record (some other JSON file): ignored
        if not (isinstance(record, dict) and "path" in record and isinstance(record.get("outputs"), dict)):
            continue
        own = Path(str(record["outputs"].get("json", "")))
        if own.parts and sidecar.parts[-len(own.parts) :] == own.parts:
            yield record, Path(*sidecar.parts[: len(sidecar.parts) - len(own.parts)])


class PredictionIndex:
    """Every prediction file under ``root``, looked up by record (see the module docstring)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise PredictionError(f"prediction folder does not exist: {self.root}")
        self.by_relpath: dict[str, list[Path]] = {}
        self.by_stem: dict[str, list[Path]] = {}
        self.by_name: dict[str, list[Path]] = {}
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
            self.by_name.setdefault(path.name, []).append(path)
        # deal detect's records, by the resolved input path and by the input's file name.
        self.records_by_path: dict[Path, tuple[dict[str, Any], Path]] = {}
        self.records_by_name: dict[str, list[tuple[dict[str, Any], Path]]] = {}
        for record, out_dir in _detect_records(self.root):
            image = Path(str(record["path"]))
            key = image.resolve() if image.is_absolute() else image
            if key in self.records_by_path:
                continue  # results.jsonl first, then the same record's sidecar
            self.records_by_path[key] = (record, out_dir)
            self.records_by_name.setdefault(image.name, []).append((record, out_dir))

    def __len__(self) -> int:
        return sum(len(paths) for paths in self.by_stem.values())

    def _from_detect_record(self, record: Record) -> Located | None:
        image = Path(record.image)
        found = self.records_by_path.get(image.resolve())
        if found is None:
            candidates = [
                (Path(str(r["path"])).parts, (r, d)) for r, d in self.records_by_name.get(image.name, [])
            ]
            if not candidates:
                return None
            found = _best_by_tail(image, candidates, "deal detect records")
        detect_record, out_dir = found
        outputs = detect_record.get("outputs") or {}
        for kind in DETECT_MAP_KINDS:
            if kind in outputs and (out_dir / outputs[kind]).is_file():
                score = detect_record.get("score")
                low, high = detect_record.get("image_threshold_low"), detect_record.get("image_threshold_high")
                pixel = detect_record.get("threshold")
                return Located(
                    out_dir / outputs[kind],
                    score=None if score is None else float(score),
                    image_thresholds=None if low is None or high is None else (float(low), float(high)),
                    source=f"deal detect {kind}",
                    threshold=None if pixel is None else float(pixel),
                )
        return None

    def _from_detect_name(self, record: Record) -> Located | None:
        image = Path(record.image)
        for kind in DETECT_MAP_KINDS:
            name = output_name(image.name, kind)
            paths = self.by_name.get(name, [])
            if paths:
                # Compare folders through the image's name: fake/x.png.npz -> fake/x.png.
                candidates = [((*p.relative_to(self.root).parts[:-1], image.name), p) for p in paths]
                return Located(
                    _best_by_tail(image, candidates, "prediction files"), source=f"deal detect {kind}"
                )
        return None

    def locate(self, record: Record) -> Located | None:
        """Where ``record``'s map is (see the module docstring), or None when there is none.

        Raises:
            PredictionError: more than one file matches.
        """
        found = self._from_detect_record(record) or self._from_detect_name(record)
        if found is not None:
            return found
        path = self.find(record)
        return None if path is None else Located(path)

    def find(self, record: Record) -> Path | None:
        """A prediction file named after ``record`` (name or stem; other tools), or None.

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

    def missing_message(self, missing: Sequence[str], total: int, what: str = "images") -> str:
        """``"N of M images have no prediction (...) under ROOT: names"``."""
        return (
            f"{len(missing)} of {total} {what} have no prediction ({MISSING_HINT}) under {self.root}: "
            f"{list_names(missing)}"
        )

    def resolve(self, records: list[Record]) -> list[Path]:
        """The prediction file of every record, in order.

        Raises:
            PredictionError: some records have no prediction (their names listed) or an ambiguous one.
        """
        found = [self.locate(r) for r in records]
        missing = [r.name for r, p in zip(records, found) if p is None]
        if missing:
            raise PredictionError(self.missing_message(missing, len(records)))
        return [p.path for p in found if p is not None]


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
