"""Scoring predictions and benchmarking detectors (the Python API behind ``deal evaluate`` and ``deal benchmark``).

Modules: :mod:`.predictions` (finding and reading maps from any tool), :mod:`.ground_truth`,
:mod:`.evaluate`, :mod:`.perturb` (robustness perturbations), :mod:`.benchmark`, :mod:`.plots`,
:mod:`.report` (tables, JSON), :mod:`.system` (hardware, peak memory), :mod:`.datasets` (``NAME=PATH``).
"""

from __future__ import annotations

import importlib
from typing import Any

# Lazy (as deal.inference): `deal.evaluation.datasets` is read by the CLI's usage checks before torch
# is imported, and importing a submodule runs this file first.
_EXPORTS = {
    "BatchPredictor": "deal.evaluation.benchmark",
    "run_benchmark": "deal.evaluation.benchmark",
    "write_benchmark_report": "deal.evaluation.benchmark",
    "evaluate_predictions": "deal.evaluation.evaluate",
    "PERTURBATIONS": "deal.evaluation.perturb",
    "Perturbation": "deal.evaluation.perturb",
    "parse_perturbation": "deal.evaluation.perturb",
    "Prediction": "deal.evaluation.predictions",
    "PredictionError": "deal.evaluation.predictions",
    "PredictionIndex": "deal.evaluation.predictions",
    "load_prediction": "deal.evaluation.predictions",
}

__all__ = [
    "PERTURBATIONS",
    "BatchPredictor",
    "Perturbation",
    "Prediction",
    "PredictionError",
    "PredictionIndex",
    "evaluate_predictions",
    "load_prediction",
    "parse_perturbation",
    "run_benchmark",
    "write_benchmark_report",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'deal.evaluation' has no attribute {name!r}")
