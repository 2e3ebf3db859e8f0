"""Colour photos bundled with scikit-image, for demos and tests where no photo folder is at hand."""

from __future__ import annotations

import numpy as np

# skimage.data loaders whose files ship inside the scikit-image wheel (no network): checked
# against scikit-image 0.26. ``cat`` is ``chelsea`` again, so it is left out.
_SAMPLES: tuple[str, ...] = ("astronaut", "chelsea", "coffee", "rocket", "stereo_motorcycle")


def sample_photos() -> list[tuple[str, np.ndarray]]:
    """The colour photographs bundled with scikit-image, loaded offline.

    Returns:
        [(name, ``HxWx3 uint8`` RGB)]: astronaut, chelsea, coffee, rocket, motorcycle_left,
        motorcycle_right (the two views of ``stereo_motorcycle``), in that order. Loaders that
        need a download are skipped.
    """
    import skimage.data

    photos: list[tuple[str, np.ndarray]] = []
    for name in _SAMPLES:
        try:
            loaded = getattr(skimage.data, name)()
        except (ModuleNotFoundError, OSError, ValueError):  # pooch-only file missing offline
            continue
        if name == "stereo_motorcycle":
            photos += [("motorcycle_left", loaded[0]), ("motorcycle_right", loaded[1])]
        else:
            photos.append((name, loaded))
    return [(n, np.ascontiguousarray(p[..., :3], dtype=np.uint8)) for n, p in photos]
