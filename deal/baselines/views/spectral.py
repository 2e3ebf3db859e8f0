"""The spectral-slope cue (:mod:`deal.baselines.spectral`) as a view: the same map as the
``spectral-slope`` baseline (a logistic of the finest-band deficit relative to the image's median, which
maps to 0.5), with the band ratio computed in tiles on large images."""

from __future__ import annotations

import numpy as np

from deal.baselines.spectral import SLOPE_STEEPNESS, finest_band_ratio, relative_logistic
from deal.baselines.views.common import tiled


def spectral_view(image: np.ndarray) -> tuple[np.ndarray, None, None]:
    """The spectral view: ``(map, None, None)``."""
    ratio = tiled(finest_band_ratio, image, margin=32)
    return relative_logistic(-np.log(ratio), SLOPE_STEEPNESS), None, None
