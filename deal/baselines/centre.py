"""The centre floor: an image-independent map (a Gaussian bump on the image's centre, sigma a quarter of
each side). Edits, like objects, tend to sit near the middle of a photo: a detector's localization figures
mean something only above what this map scores against the same masks. For benchmark tables only
(``deal benchmark --baseline centre``); it is not a view of the image."""

from __future__ import annotations

import numpy as np

SIGMA_FRACTION = 0.25  # the bump's standard deviation, as a fraction of each side


def centre(image: np.ndarray) -> tuple[np.ndarray, None]:
    """``(map, None)``: exp(-(dx^2 + dy^2) / 2) with dx, dy the offsets from the centre in sigmas."""
    h, w = image.shape[:2]
    dy = (np.arange(h, dtype=np.float32) + 0.5 - h / 2) / (SIGMA_FRACTION * h)
    dx = (np.arange(w, dtype=np.float32) + 0.5 - w / 2) / (SIGMA_FRACTION * w)
    return np.exp(-0.5 * (dy[:, None] ** 2 + dx[None, :] ** 2)).astype(np.float32), None
