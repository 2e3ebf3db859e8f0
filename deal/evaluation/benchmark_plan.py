"""Which images ``deal benchmark`` predicts in which window, and which images each map serves.

The records of a dataset are predicted in windows of ``batch_size`` consecutive records (``deal detect``'s
windows). With the objectness control, an edited record's original is needed too:

* when the original is itself a record of the dataset (CoCoGlide ``real/``: the same file), its map is the
  one predicted in that record's own window, one forward pass for both uses;
* otherwise (DEAL-300K's originals, a manifest's ``original`` column, or a ``limit`` that leaves the
  original's record out) the original is predicted once, in a window of its own after the window of the
  first edit that names it, and it also counts as an authentic image of the image-level metrics.

An image's identity is its resolved file path: the same file under the same perturbation (same noise seed,
from the image's name) is the same input, hence the same map.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from deal.data.sample import Record


def image_key(path: str) -> str:
    """The identity of an image file: its resolved path (a link and its target are one image)."""
    return str(Path(path).resolve())


@dataclass(frozen=True)
class Item:
    """One image the benchmark scores: a record, or an original that is not a record (scored as authentic).

    Attributes:
        key: :func:`image_key` of its file: the identity of its map.
        path: its file, as given.
        name: the record's name, or an original's file stem: seeds its noise, names it in errors.
        label: 1 edited, 0 authentic.
        record: the record (None for an original that is not one).
        control: the key of its original's map (an edited record with an original, control on), else None.
        position: where its row goes among the dataset's scored images: the records in their order, then
            the originals that are not records in the order they are first needed (so the rows, hence the
            bootstrap intervals, do not depend on ``batch_size`` and equal ``deal evaluate``'s for the records).
    """

    key: str
    path: str
    name: str
    label: int
    record: Record | None
    control: str | None = None
    position: int = 0

    def ground_truth_record(self) -> Record:
        """The record whose ground truth this image is scored against (an original's: all authentic)."""
        return self.record or Record(image=self.path, mask=None, label=0, name=self.name)


@dataclass
class Window:
    """One ``deal detect`` window of records, then the originals first needed here that are not records."""

    records: list[Item]
    originals: list[Item] = field(default_factory=list)

    @property
    def items(self) -> list[Item]:
        return [*self.records, *self.originals]


@dataclass
class Plan:
    """The windows of one dataset, and how many scored images need each map (the map is kept until then)."""

    windows: list[Window]
    uses: Counter[str]


def plan_windows(records: Sequence[Record], batch_size: int, control: bool) -> Plan:
    """The windows of ``records`` (see the module docstring)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    record_keys = {image_key(r.image) for r in records}
    planned_originals: set[str] = set()
    uses: Counter[str] = Counter()
    windows = []
    for start in range(0, len(records), batch_size):
        window = Window([])
        for r in records[start : start + batch_size]:
            original = image_key(r.original) if control and r.label == 1 and r.original else None
            item = Item(image_key(r.image), r.image, r.name, int(r.label), r, original, start + len(window.records))
            window.records.append(item)
            uses[item.key] += 1
            if original is None:
                continue
            uses[original] += 1
            if original not in record_keys and original not in planned_originals:
                planned_originals.add(original)
                assert r.original is not None
                position = len(records) + len(planned_originals) - 1
                window.originals.append(Item(original, r.original, Path(r.original).stem, 0, None, None, position))
                uses[original] += 1  # scored as an authentic image too
        windows.append(window)
    return Plan(windows, uses)
