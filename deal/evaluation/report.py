"""Metric tables (Markdown) and JSON reports, written atomically."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

# Shorter column titles for the tables; keys not listed are shown as they are.
COLUMN_TITLES: dict[str, str] = {
    "pixel_f1": "F1",
    "pixel_f1@0.5": "F1@0.5",
    "pixel_f1@calibrated": "F1@calibrated",
    "pixel_f1_best": "F1 best",
    "pixel_f1_dataset": "F1 dataset",
    "pixel_iou": "IoU",
    "pixel_auc": "pixel AUC",
    "image_auc": "image AUC",
    "image_bacc": "image bAcc",
    "image_inconclusive": "inconclusive",
    "false_alarm_area": "false alarm",
    "n_edited": "edited",
    "n_authentic": "authentic",
    "verdict_edited": "called edited",
    "verdict_inconclusive": "called inconclusive",
    "verdict_authentic": "called authentic",
    "images_per_s": "img/s",
}


# Format of the float cells of these columns; other floats get 4 decimals.
COLUMN_FORMATS: dict[str, str] = {"images_per_s": "{:.1f}"}


def format_value(value: Any, fmt: str = "{:.4f}") -> str:
    """A table cell: floats with ``fmt``, NaN/None as ``n/a``, the rest as ``str``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float):
        return fmt.format(value)
    return str(value)


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """A Markdown pipe table: one line per row dict, one column per key (:data:`COLUMN_TITLES`,
    :data:`COLUMN_FORMATS`)."""
    titles = [COLUMN_TITLES.get(c, c) for c in columns]
    lines = ["| " + " | ".join(titles) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    for row in rows:
        lines.append(
            "| "
            + " | ".join(format_value(row.get(c), COLUMN_FORMATS.get(c, "{:.4f}")) for c in columns)
            + " |"
        )
    return "\n".join(lines)
