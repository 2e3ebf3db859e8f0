"""The metric-convention options `deal evaluate` and `deal benchmark` share."""

from __future__ import annotations

import argparse


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
