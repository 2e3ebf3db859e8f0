"""Robustness plots: a metric against perturbation strength, one line per dataset (PNG, Agg)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from deal.evaluation.report import COLUMN_TITLES
from deal.fileio import atomic_path

# Perturbations whose strength gets milder as the number grows: plotted with the x axis reversed,
# so that the image gets worse from left to right on every plot.
_MILDER_WHEN_LARGER = frozenset({"jpeg"})
_X_LABELS = {
    "jpeg": "JPEG quality",
    "resize": "resize factor",
    "blur": "blur sigma (px)",
    "noise": "noise sigma (0-255)",
}


def plot_metric_vs_strength(
    rows: Sequence[Mapping[str, Any]], kind: str, metric: str, path: str | Path
) -> None:
    """Write a PNG of ``metric`` against the strengths of perturbation ``kind``.

    Args:
        rows: benchmark result rows (keys ``dataset``, ``perturbation``, ``strength``, ``metrics``);
            a dataset's ``"none"`` row is drawn as a dotted horizontal line of the same colour.
        kind: the perturbation kind (``"jpeg"``).
        metric: a key of the rows' ``metrics`` (``"pixel_f1"``).
        path: the PNG to write (atomically).
    """
    # The object-oriented API (Figure, not pyplot) renders with Agg and leaves the global backend alone.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.0, 3.5), dpi=100, layout="constrained")
    ax = fig.subplots()
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    for i, name in enumerate(datasets):
        points = sorted(
            (r["strength"], r["metrics"][metric])
            for r in rows
            if r["dataset"] == name and r["perturbation"] == kind
        )
        if not points:
            continue
        color = f"C{i % 10}"
        ax.plot([x for x, _ in points], [y for _, y in points], marker="o", color=color, label=name)
        clean = [r["metrics"][metric] for r in rows if r["dataset"] == name and r["perturbation"] == "none"]
        if clean and clean[0] is not None and not math.isnan(clean[0]):
            ax.axhline(clean[0], color=color, linestyle=":", linewidth=1)
    if kind in _MILDER_WHEN_LARGER:
        ax.invert_xaxis()
    ax.set_xlabel(_X_LABELS.get(kind, kind))
    ax.set_ylabel(COLUMN_TITLES.get(metric, metric))
    ax.set_title(f"{COLUMN_TITLES.get(metric, metric)} under {kind} (dotted: unperturbed)", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
