"""The metric-convention options `deal evaluate` and `deal benchmark` share."""

from __future__ import annotations

import argparse


def add_metric_convention_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threshold", type=float, default=0.5, help="a pixel is flagged when prob > T (default 0.5)"
    )
    parser.add_argument(
        "--inverted-max", action="store_true", help="per image, the better of map and 1-map (TruFor)"
    )
    parser.add_argument(
        "--border-band",
        action="store_true",
        help="ignore TruFor's band around the mask boundary (erode 15, dilate 11)",
    )
