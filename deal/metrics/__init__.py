"""Localization and detection metrics: pure functions (:mod:`.functional`) and a torchmetrics class."""

from deal.metrics.localization import CONVENTION, METRIC_KEYS, LocalizationMetrics, describe_convention

__all__ = ["CONVENTION", "METRIC_KEYS", "LocalizationMetrics", "describe_convention"]
