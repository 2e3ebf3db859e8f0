"""Metric tables (Markdown) and JSON reports, written atomically."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from deal.metrics.keys import COLUMN_TITLES

__all__ = ["COLUMN_TITLES", "format_value", "markdown_table"]

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
        lines.append("| " + " | ".join(_cell(row, c) for c in columns) + " |")
    return "\n".join(lines)


def _cell(row: Mapping[str, Any], column: str) -> str:
    """``value`` (4 decimals), or ``value [lo, hi]`` (3 decimals) when the row has the column's interval."""
    value, lo, hi = row.get(column), row.get(f"{column}_lo"), row.get(f"{column}_hi")
    defined = [v for v in (value, lo, hi) if isinstance(v, float) and not math.isnan(v)]
    if len(defined) == 3:
        return f"{value:.3f} [{lo:.3f}, {hi:.3f}]"
    return format_value(value, COLUMN_FORMATS.get(column, "{:.4f}"))
