"""Localization and detection metrics: pure functions (:mod:`.functional`), a torchmetrics class, the metric
convention (:mod:`.convention`) and every reported key with its definition (:mod:`.keys`).

Names are imported lazily so that light users (the image score rule, --help) do not import torchmetrics.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "INTERVAL_KEYS",
    "METRIC_KEYS",
    "LocalizationMetrics",
    "MetricConvention",
    "aggregate",
    "bootstrap_intervals",
]

_LIGHT = {"METRIC_KEYS": "keys", "INTERVAL_KEYS": "keys", "MetricConvention": "convention"}


def __getattr__(name: str) -> Any:
    if name in __all__:
        import importlib

        module = importlib.import_module(f"deal.metrics.{_LIGHT.get(name, 'localization')}")
        return getattr(module, name)
    raise AttributeError(f"module 'deal.metrics' has no attribute {name!r}")
