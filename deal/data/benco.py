"""IMDL-BenCo's JSON dataset format: a list of ``[image, mask]`` pairs, ``mask == "Negative"`` for an
authentic image. Relative paths are relative to the JSON file's folder; absolute ones are kept.
The format carries no split, so records have split "".
"""

from __future__ import annotations

import json
from pathlib import Path

from deal.data.errors import DatasetError
from deal.data.paths import resolve, unique_names
from deal.data.sample import Record

NEGATIVE = "Negative"


def load_benco_json(json_path: str | Path) -> list[Record]:
    """Records of an IMDL-BenCo JSON list (edited rows label 1 with their mask, ``"Negative"`` rows
    label 0 without one), in file order.

    Raises:
        DatasetError: unreadable JSON, or an entry that is not ``[image, mask-or-"Negative"]``.
    """
    json_path = Path(json_path)
    try:
        entries = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DatasetError(f"cannot read IMDL-BenCo JSON {json_path}: {err}") from err
    if not isinstance(entries, list) or not entries:
        raise DatasetError(
            f'{json_path}: expected a non-empty JSON list of [image, mask or "Negative"] pairs'
        )
    base = json_path.parent
    pairs = []
    for i, entry in enumerate(entries):
        ok = (
            isinstance(entry, (list, tuple))
            and len(entry) == 2
            and all(isinstance(x, str) and x for x in entry)
        )
        if not ok:
            raise DatasetError(f'{json_path} entry {i}: expected [image, mask or "Negative"], got {entry!r}')
        image, mask = entry
        pairs.append((resolve(image, base), None if mask == NEGATIVE else resolve(mask, base)))
    names = unique_names([p for p, _ in pairs], base)
    return [
        Record(image=str(image), mask=str(mask) if mask else None, label=int(mask is not None), name=name)
        for (image, mask), name in zip(pairs, names)
    ]
