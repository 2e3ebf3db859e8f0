"""The records a training run reads, found without torch (`deal train` checks its data before importing it)."""

from __future__ import annotations

from deal.data.discover import discover_records
from deal.data.errors import DatasetError
from deal.data.sample import Record

__all__ = ["find_records"]


def find_records(paths: list[str] | str | None, split: str, key: str, split_key: str) -> list[Record]:
    """The records of `split` in one dataset path or several; DatasetError names data.<key> and the fix."""
    records: list[Record] = []
    for path in [paths] if isinstance(paths, str) else list(paths or []):
        try:
            records += discover_records(path, split or None)
        except DatasetError as err:
            raise DatasetError(f"data.{key}: {_with_fix(str(err), split_key)}") from None
    if not records:
        raise DatasetError(f"data.{key}: no records in {paths}; pass a dataset folder or manifest.csv")
    return records


def _with_fix(message: str, split_key: str) -> str:
    if message.startswith("no records of split"):
        return f"{message}; set --data.{split_key} to one of those ('' = all records)"
    if message.startswith("dataset path does not exist"):
        return f"{message}; pass a dataset folder or manifest.csv (e.g. one made by deal data prepare or deal data synth)"
    return message
