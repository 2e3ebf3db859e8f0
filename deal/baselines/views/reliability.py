"""How far each view can be trusted on real diffusion edits, as measured by ``deal benchmark``: the
one-line figure the report's legend and the serve page show beside each view.

The figures live in ``reliability.json`` next to this module, written by one command (never by hand)::

    python -m deal_benchmarks.view_reliability --entry dev --dataset CocoGlide=../shared/data/dev/CocoGlide

which runs ``deal benchmark --baseline NAME`` for every view (and the bundled detector, the floors) and
stores :func:`entry_from_benchmark` of its report under the entry's name. The label reads the
:data:`LABEL_ENTRY` entry (the CoCoGlide development split); the ``fixture`` entry is the same command on
the 16-image CoCoGlide test fixture, which the test suite re-runs and compares, so the file and
``deal benchmark`` cannot drift apart.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path
from typing import Any

RELIABILITY_FILE = Path(__file__).with_name("reliability.json")
LABEL_ENTRY = "dev"  # the entry the labels read
MODEL = "model"  # the figures' key of the detector's own map
FIGURE_KEYS = ("pixel_auc", "pixel_auc_control", "pixel_auc_lift", "pixel_f1")  # each with _lo and _hi
NO_SIGNAL = "no measured signal on diffusion inpainting"


def entry_from_benchmark(report: dict[str, Any], dataset: str, command: str) -> dict[str, Any]:
    """One entry of the file from a ``deal benchmark`` report (its ``benchmark.json``): for the detector's
    unperturbed row (``model``) and each baseline row, the :data:`FIGURE_KEYS` with their intervals and the
    CPU seconds per megapixel; plus what was measured, on what, and the command that measures it again."""
    figures: dict[str, dict[str, float]] = {}
    for row in report["results"]:
        if row["perturbation"] not in ("none", "baseline"):
            continue
        name = MODEL if row["perturbation"] == "none" else row["label"]
        metrics = row["metrics"]
        figure = {k: metrics[k] for key in FIGURE_KEYS for k in (key, f"{key}_lo", f"{key}_hi") if k in metrics}
        megapixels = row.get("megapixels") or 0.0
        figure["cpu_seconds_per_megapixel"] = row.get("predict_cpu_seconds", math.nan) / megapixels if megapixels else math.nan
        figures[name] = figure
    (first,) = {row["n_images"] for row in report["results"] if row["perturbation"] == "none"}
    predictor = report.get("predictor", {})
    return {
        "dataset": dataset,
        "n_images": first,
        "command": command,
        "detector": {"name": predictor.get("name"), "sha256": predictor.get("sha256")},
        "convention": report["convention"],
        "hardware": report["hardware"],
        "figures": figures,
    }


@cache
def load_reliability(path: Path = RELIABILITY_FILE) -> dict[str, Any]:
    """The file's content (``{"entries": {name: entry}}``); empty entries when the file is absent."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"entries": {}}


def measured_detector_sha256(entry: str = LABEL_ENTRY) -> str | None:
    """The sha256 of the detector whose map the entry measured (the bundled one), or None."""
    return (load_reliability().get("entries", {}).get(entry) or {}).get("detector", {}).get("sha256")


def _signed(value: float) -> str:
    return f"{round(value, 3) + 0.0:+.3f}"  # + 0.0: no "-0.000"


def reliability_line(name: str, entry: str = LABEL_ENTRY, data: dict[str, Any] | None = None) -> str:
    """The one-line reliability figure of view ``name`` (or :data:`MODEL`): its pixel-AUC lift (edited image
    minus its unedited original, against the same mask) with the 95% interval, on the entry's dataset; a lift
    whose interval includes 0 says :data:`NO_SIGNAL`."""
    data = load_reliability() if data is None else data
    found = data.get("entries", {}).get(entry)
    figure = (found or {}).get("figures", {}).get(name)
    if figure is None or not all(k in figure for k in ("pixel_auc_lift", "pixel_auc_lift_lo", "pixel_auc_lift_hi")):
        return "reliability not measured"
    lift, lo, hi = figure["pixel_auc_lift"], figure["pixel_auc_lift_lo"], figure["pixel_auc_lift_hi"]
    measured = f"pixel-AUC lift {_signed(lift)} [{_signed(lo)}, {_signed(hi)}] on {found['dataset']}"
    return f"{NO_SIGNAL} ({measured})" if lo <= 0.0 <= hi else measured
