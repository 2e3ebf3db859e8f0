"""Training-free baseline detectors, scored by ``deal benchmark --baseline NAME`` beside a detector.

A baseline is a function ``image (HxWx3 uint8 RGB) -> (probs HxW float32 in [0, 1], score or None)``: the
predictor deal.evaluation.benchmark.run_benchmark takes. :data:`BASELINES` is the registry (a plain dict).
numpy and OpenCV only: no model (the spectral cue borrows the model's band filters, in torch). The classic
forensic views (:mod:`deal.baselines.views`) are registered here under their baseline names.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from deal.baselines.centre import centre
from deal.baselines.spectral import (
    finest_band_ratio,
    residual_kurtosis,
    spectral_kurtosis,
    spectral_slope,
    spectral_slope_map,
)
from deal.baselines.views import VIEWS, view_baseline

Baseline = Callable[[np.ndarray], tuple[np.ndarray, "float | None"]]


def predict_everything(image: np.ndarray) -> tuple[np.ndarray, float]:
    """The floor every localization result is set against: every pixel edited, image score 1."""
    return np.ones(image.shape[:2], np.float32), 1.0


# The floors first (every pixel; the centre bump), then the views (each under its baseline name; the
# spectral view is the spectral-slope baseline), then the other cues.
BASELINES: dict[str, Baseline] = {
    "predict-everything": predict_everything,
    "centre": centre,
    **{view.baseline: view_baseline(view.name) for view in VIEWS.values()},
    "spectral-kurtosis": spectral_kurtosis,
}


def get_baseline(name: str) -> Baseline:
    """The registered baseline ``name``; ValueError listing the choices otherwise."""
    try:
        return BASELINES[name]
    except KeyError:
        raise ValueError(f"unknown baseline {name!r}; choose one of {', '.join(BASELINES)}") from None


__all__ = [
    "BASELINES",
    "Baseline",
    "centre",
    "finest_band_ratio",
    "get_baseline",
    "predict_everything",
    "residual_kurtosis",
    "spectral_kurtosis",
    "spectral_slope",
    "spectral_slope_map",
]
