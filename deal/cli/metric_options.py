"""The metric-convention options `deal evaluate` and `deal benchmark` share, and the one place they become a
deal.metrics.convention.MetricConvention."""

from __future__ import annotations

import argparse
from typing import Any

DEFAULT_BOOTSTRAP = 1000  # = deal.metrics.convention.DEFAULT_BOOTSTRAP (not imported: --help stays light)


def add_metric_convention_arguments(
    parser: argparse.ArgumentParser,
    threshold_default: float | None = 0.5,
    threshold_help: str = "a pixel is flagged when prob > T (default 0.5)",
) -> None:
    parser.add_argument("--threshold", type=float, default=threshold_default, help=threshold_help)
    parser.add_argument(
        "--inverted-max", action="store_true", help="per image, the better of map and 1-map (TruFor)"
    )
    parser.add_argument(
        "--border-band",
        action="store_true",
        help="ignore TruFor's band around the mask boundary (erode 15, dilate 11)",
    )
    parser.add_argument(
        "--bootstrap",
        type=int,
        default=DEFAULT_BOOTSTRAP,
        metavar="N",
        help=f"resamples of the 95%% bootstrap intervals over images, seed 0 (default {DEFAULT_BOOTSTRAP}; 0: none)",
    )


def convention_from_args(args: argparse.Namespace, **fields: Any) -> Any:
    """The MetricConvention of the parsed options; ``fields`` (threshold, image_thresholds, ...) set or
    override what the options leave open. ValueError names a bad value."""
    from deal.metrics.convention import MetricConvention

    values = {
        "threshold": 0.5 if args.threshold is None else args.threshold,
        "inverted_max": args.inverted_max,
        "border_band": args.border_band,
        "num_thresholds": getattr(args, "num_thresholds", None),
        "bootstrap": args.bootstrap,
    }
    values.update({k: v for k, v in fields.items()})
    return MetricConvention(**values)
