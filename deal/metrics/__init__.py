"""Localization and detection metrics: pure functions (:mod:`.functional`) and a torchmetrics class.

Names are imported lazily so that light users (the image score rule) do not import torchmetrics.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CONVENTION", "METRIC_KEYS", "LocalizationMetrics", "describe_convention"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from deal.metrics import localization

        return getattr(localization, name)
    raise AttributeError(f"module 'deal.metrics' has no attribute {name!r}")
