"""deal export: a training checkpoint (or a detector file, to recalibrate it) -> one small detector file with
calibrated thresholds."""

from __future__ import annotations

import argparse

from deal.modeling.constants import DEFAULT_BATCH_SIZE
from deal.training.defaults import DEFAULT_PRECISION

HELP = "write a detector file (.safetensors) from a training checkpoint, threshold calibrated on validation data"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "checkpoint", help="Lightning checkpoint (.ckpt) written by deal train, or a detector file to recalibrate"
    )
    p.add_argument("--out", required=True, help="detector file to write (.safetensors)")
    p.add_argument("--name", help="detector name recorded in the file (default: the file's stem)")
    p.add_argument("--val", nargs="*", help="validation datasets for calibration (default: the checkpoint's)")
    p.add_argument("--val-split", default="val", help="split of --val to use ('' = all)")
    p.add_argument("--threshold", type=float, help="use this pixel threshold instead of calibrating it")
    p.add_argument(
        "--precision",
        type=float,
        default=DEFAULT_PRECISION,
        help="the verdict's image thresholds: edited above HIGH and authentic below LOW, each at least this "
        f"precise on the validation images; inconclusive in between (default {DEFAULT_PRECISION})",
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH_SIZE,
        help=f"calibration batch size (default {DEFAULT_BATCH_SIZE}, deal detect's)",
    )
    p.add_argument("--limit", type=int, default=0, help="calibrate on at most N images")
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--sam-checkpoint", help="the frozen encoder's SAM file (default: the one recorded in the checkpoint)"
    )


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    from deal.cli import checks
    from deal.errors import UsageError

    # Usage checks first, torch-free: one sentence and exit 2 in well under a second.
    checks.check_existing_file(args.checkpoint, "checkpoint")
    checks.check_unit_interval(args.threshold, "--threshold")
    checks.check_unit_interval(args.precision, "--precision", open_low=True)
    checks.check_at_least(args.batch_size, 1, "--batch-size")
    checks.check_at_least(args.limit, 0, "--limit")
    if args.sam_checkpoint is not None:
        checks.check_existing_file(args.sam_checkpoint, "--sam-checkpoint")
    if args.val:
        checks.check_datasets(args.val, args.val_split or None, option="--val")
    checks.check_output_file(args.out, "--out")

    from deal.metrics.image_score import detector_verdict_limitation
    from deal.modeling.detector_file import read_detector_info
    from deal.training.export import export_checkpoint

    try:
        path, info = export_checkpoint(
            args.checkpoint, args.out, name=args.name, val=args.val, val_split=args.val_split,
            threshold=args.threshold, precision=args.precision, limit=args.limit, device=args.device,
            batch_size=args.batch_size, sam_checkpoint=args.sam_checkpoint,
        )
    except (ValueError, OSError) as err:  # no such checkpoint, another SAM file, no validation data: they name it
        raise UsageError(str(err)) from err
    print(json.dumps({"detector": str(path), **info}, indent=2))
    # What the written file says (DetectorInfo's named fields), not a copy of it.
    written = read_detector_info(path, with_sha256=False)
    limitation = (
        detector_verdict_limitation(written.image_thresholds, written)
        if written.image_thresholds is not None
        else None
    )
    if limitation:
        print(f"deal export: note: {limitation}", file=sys.stderr)
    return 0
