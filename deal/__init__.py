"""deal: localize the regions of an image that a diffusion model edited.

Public API::

    from deal import Detector
    det = Detector.load()            # the bundled demonstration detector
    result = det.predict("photo.jpg")
    result.heatmap, result.mask, result.score, result.regions
"""

from __future__ import annotations

from deal.version import __version__

__all__ = ["Detector", "Detection", "__version__"]


def __getattr__(name: str):
    # Lazy: `import deal` stays light (the CLI's --help does not import torch).
    if name in ("Detector", "Detection"):
        from deal.inference import detector

        return getattr(detector, name)
    raise AttributeError(f"module 'deal' has no attribute {name!r}")
