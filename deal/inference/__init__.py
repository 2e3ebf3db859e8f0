"""Inference: the model runner, a trained detector over images of any size (folder jobs: deal.runs).

Public API (imported lazily, so importing a submodule stays light)::

    from deal.inference import Detector, Detection, ImageLoadError, NonFiniteMapError

deal.inference never imports lightning.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Detector": "deal.inference.detector",
    "Detection": "deal.inference.detection",
    "ImageLoadError": "deal.imageio",
    "NonFiniteMapError": "deal.inference.detection",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'deal.inference' has no attribute {name!r}")
