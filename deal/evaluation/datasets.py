"""``NAME=PATH`` dataset arguments turned into named record lists (shared by evaluate and benchmark)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from deal.data.discover import discover_records
from deal.data.sample import Record


def parse_dataset_spec(spec: str) -> tuple[str, Path]:
    """``"CocoGlide=/data/CocoGlide"`` -> ``("CocoGlide", Path(...))``; a bare path is named after its folder.

    Raises:
        ValueError: empty name or path.
    """
    name, sep, path = spec.partition("=")
    if not sep or "/" in name or "\\" in name:  # no NAME= prefix: the whole text is a path
        name, path = Path(spec.rstrip("/\\")).name, spec
    if not name or not path:
        raise ValueError(f"--dataset expects NAME=PATH, got {spec!r}")
    return name, Path(path).expanduser()


def parse_dataset_specs(specs: Sequence[str]) -> dict[str, Path]:
    """Several specs as ``{name: path}``, in order.

    Raises:
        ValueError: a malformed spec, or a name given twice.
    """
    datasets: dict[str, Path] = {}
    for spec in specs:
        name, path = parse_dataset_spec(spec)
        if name in datasets:
            raise ValueError(
                f"dataset name {name!r} given twice ({datasets[name]} and {path}); use NAME=PATH"
            )
        datasets[name] = path
    return datasets


def load_datasets(datasets: dict[str, Path], split: str | None = None) -> dict[str, list[Record]]:
    """The records of each dataset (layout detected by :func:`deal.data.discover.discover_records`).

    Raises:
        DatasetError: a path holds no recognizable dataset, or no record of ``split``.
    """
    return {name: discover_records(path, split=split) for name, path in datasets.items()}
