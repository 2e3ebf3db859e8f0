"""deal train: LightningCLI (see deal/training/cli.py)."""

from __future__ import annotations

import argparse

HELP = "train MFPT with Lightning: deal train --config configs/X.yaml [--trainer.devices N ...]"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("lightning_args", nargs=argparse.REMAINDER, help="LightningCLI arguments (--config, --print_config, overrides)")


def run(args: argparse.Namespace) -> int:
    return run_lightning_cli(list(args.lightning_args))


def run_lightning_cli(argv: list[str] | None) -> int:
    from deal.training.cli import run_training

    return run_training(argv)
