"""Scoring predictions and benchmarking detectors (the Python API behind ``deal evaluate`` and ``deal benchmark``).

Modules: :mod:`.predictions` (finding and reading maps from any tool), :mod:`.ground_truth`,
:mod:`.evaluate`, :mod:`.perturb` (robustness perturbations), :mod:`.benchmark`, :mod:`.plots`,
:mod:`.report` (tables, JSON), :mod:`.system` (hardware, peak memory), :mod:`.datasets` (``NAME=PATH``).
"""

from deal.evaluation.benchmark import BatchPredictor, run_benchmark, write_benchmark_report
from deal.evaluation.evaluate import evaluate_predictions
from deal.evaluation.perturb import PERTURBATIONS, Perturbation, parse_perturbation
from deal.evaluation.predictions import Prediction, PredictionError, PredictionIndex, load_prediction

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
