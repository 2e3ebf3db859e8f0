"""Training-free baseline detectors, scored by ``deal benchmark --baseline NAME`` beside a detector.

A baseline is a function ``image (HxWx3 uint8 RGB) -> (probs HxW float32 in [0, 1], score or None)``: the
predictor deal.evaluation.benchmark.run_benchmark takes. :data:`BASELINES` is the registry (a plain dict).
numpy and OpenCV only: no torch, no model.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from deal.baselines.spectral import (
    finest_band_ratio,
    residual_kurtosis,
    spectral_kurtosis,
    spectral_slope,
    spectral_slope_map,
)

Baseline = Callable[[np.ndarray], tuple[np.ndarray, "float | None"]]


def predict_everything(image: np.ndarray) -> tuple[np.ndarray, float]:
    """The floor every localization result is set against: every pixel edited, image score 1."""
    return np.ones(image.shape[:2], np.float32), 1.0


BASELINES: dict[str, Baseline] = {
    "predict-everything": predict_everything,
    "spectral-slope": spectral_slope,
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
    "finest_band_ratio",
    "get_baseline",
    "predict_everything",
    "residual_kurtosis",
    "spectral_kurtosis",
    "spectral_slope",
    "spectral_slope_map",
]
