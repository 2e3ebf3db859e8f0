"""Options that `deal detect` and `deal serve` share (a serve job is a detect run): defined once."""

from __future__ import annotations

import argparse

from deal.modeling.constants import DEFAULT_BATCH_SIZE

DEVICES = ("auto", "cpu", "cuda", "mps")


def add_device_and_batch_size(parser: argparse.ArgumentParser) -> None:
    """--device and --batch-size, as every folder run takes them."""
    parser.add_argument("--device", default="auto", choices=DEVICES, help="default: auto")
    parser.add_argument(
        "--batch-size", type=int, default=DEFAULT_BATCH_SIZE, metavar="N",
        help=f"images per batch (default: {DEFAULT_BATCH_SIZE})",
    )
