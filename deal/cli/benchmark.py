"""``deal benchmark``: a detector's metrics on datasets, clean and under perturbations."""

from __future__ import annotations

import argparse
from typing import Any

from deal.cli.metric_options import add_metric_convention_arguments
from deal.modeling.constants import DEFAULT_BATCH_SIZE  # deal detect's (torch-free: --help stays fast)

HELP = "benchmark a detector on datasets, clean and under JPEG/resize/blur/noise perturbations"
DESCRIPTION = """\
Run a detector over every dataset, unperturbed ("none") and under each --perturb strength, and
report the localization metrics of each run (same convention as `deal evaluate`, named in the
report), images/s, peak memory and the hardware.

The detector runs exactly as in `deal detect` (same image loader, same batches of --batch-size
consecutive images, same dtype): its unperturbed maps are the ones `deal detect --batch-size N`
writes for the same images in the same order, and `deal evaluate` of those outputs gives the same
numbers. Pixel F1 is reported at 0.5 (F1@0.5, pixel_f1) and at the detector's calibrated pixel
threshold (F1@T, pixel_f1_calibrated) side by side; --threshold (default: the calibrated one) sets
the threshold of F1@T, IoU, MCC, F1 dataset and false alarm. Image bAcc and the inconclusive
fraction are those of the detector's verdict at its two calibrated image thresholds, the numbers
deal detect's verdicts give. Headline numbers carry seeded 95% bootstrap intervals over images.

Objectness control: where a dataset has the unedited originals (CoCoGlide real/, DEAL-300K
originals, a manifest's original column), the map of each edited image's original is scored
against the same mask: pixel_auc_control, pixel_f1_best_control, and the lift (edit minus control,
over the paired images, n_control) pixel_auc_lift, pixel_f1_best_lift. Each image is predicted once:
an original that is a record serves as its authentic image and as the control; an original that is
not a record counts as an authentic image of the image-level metrics too.

An image that cannot be read or that the detector or a baseline fails on is an error row (benchmark.json
"errors", benchmark.md "Errors") and the run goes on; the detector's report is written before the
baselines run. Exit code 1 when some image failed.

--baseline NAME also scores a training-free baseline on the same images under the same convention
(repeatable). Floors: predict-everything (every pixel edited, score 1), centre (a bump on the image's
centre, the same for every image). The forensic views of `deal detect --views`: ela (error level at a
JPEG re-save at quality 90), noise (local noise level against the image's median), jpeg (an 8x8 JPEG
grid out of step with the image's; an all-zero map where the pixels carry no grid), spectral-slope
(the finest-band energy deficit of generated pixels; the spectral view), copymove (regions copied
within the image). And spectral-kurtosis (spectral-slope plus residual kurtosis).

Perturbations (KIND=S1,S2,..., repeatable):
  jpeg=Q      JPEG re-compression at quality Q (1-100)
  resize=F    resize by factor F; the predicted map is resized back to the original size
  blur=S      Gaussian blur, sigma S pixels
  noise=S     Gaussian noise, sigma S in 0-255 units (seeded per image: reproducible)

Writes OUT/benchmark.json, OUT/benchmark.md (the table) and, for a perturbation with several
strengths, OUT/plots/<kind>_<metric>.png (pixel_f1 and pixel_auc against strength).

example:
  deal benchmark --dataset CocoGlide=/data/CocoGlide --perturb jpeg=90,70,50 --perturb resize=0.5,0.75
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--detector", default=None, metavar="FILE", help="detector weights (default: the bundled detector)"
    )
    parser.add_argument(
        "--dataset", required=True, action="append", metavar="NAME=DIR", help="dataset to run on (repeatable)"
    )
    parser.add_argument("--split", default=None, help="only records of this split (train/val/test)")
    parser.add_argument(
        "--perturb",
        action="append",
        default=[],
        metavar="KIND=S1,S2",
        help="perturbation and strengths (repeatable): jpeg=90,70,50 resize=0.5,0.75 blur=1,2 noise=3,5",
    )
    parser.add_argument(
        "--out", default="runs/benchmark", metavar="DIR", help="output folder (default runs/benchmark)"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ... (default auto)")
    parser.add_argument(
        "--limit", type=int, default=None, metavar="N", help="at most N images per dataset (the first)"
    )
    add_metric_convention_arguments(
        parser,
        threshold_default=None,
        threshold_help="a pixel is flagged when prob > T (default: the detector's calibrated pixel threshold)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH_SIZE,
        metavar="N",
        help=f"images per batch, as in deal detect (default {DEFAULT_BATCH_SIZE}, deal detect's default)",
    )
    parser.add_argument("--seed", type=int, default=0, help="base seed of the noise perturbation (default 0)")
    parser.add_argument(
        "--baseline",
        action="append",
        nargs="?",
        const="predict-everything",
        default=[],
        metavar="NAME",
        help="also score this baseline on the same images (repeatable; no NAME: predict-everything): "
        "predict-everything, centre, ela, noise, jpeg, spectral-slope, copymove, spectral-kurtosis",
    )


def run(args: argparse.Namespace) -> int:

    from deal.baselines import get_baseline  # numpy and OpenCV only: no torch
    from deal.cli import checks
    from deal.errors import UsageError

    # Usage checks first, torch-free: one sentence and exit 2 in well under a second.
    checks.check_unit_interval(args.threshold, "--threshold")
    checks.check_at_least(args.batch_size, 1, "--batch-size")
    checks.check_at_least(args.limit, 1, "--limit")
    checks.check_at_least(args.bootstrap, 0, "--bootstrap")
    from deal.evaluation.perturb import parse_perturbation

    try:
        perturbations = [p for spec in args.perturb for p in parse_perturbation(spec)]
    except ValueError as err:
        raise UsageError(str(err)) from err
    try:
        baselines = {name: get_baseline(name) for name in dict.fromkeys(args.baseline)}
    except ValueError as err:
        raise UsageError(str(err)) from err
    checks.check_detector_file(args.detector)
    records = checks.check_datasets(args.dataset, args.split)
    checks.check_output_dir(args.out, "--out")

    from deal.inference.detector import Detector

    try:
        detector = Detector.load(path=args.detector, device=args.device)
    except (ValueError, OSError) as err:  # CheckpointError, missing file, unavailable device: they name it
        raise UsageError(str(err)) from err
    return _run_and_write(args, detector, records, perturbations, baselines)


def _run_and_write(args: argparse.Namespace, detector: Any, records: dict, perturbations: list, baselines: dict) -> int:
    """The detector's rows, written at once; then each baseline's, the report rewritten after each. A baseline
    that fails on an image adds an error row; one that fails outright adds one error row for the whole run:
    the detector's results are on disk whatever a baseline does. Exit 1 when some image failed."""
    import sys

    from deal.cli.metric_options import convention_from_args
    from deal.data.errors import DatasetError
    from deal.evaluation.benchmark import benchmark_markdown, run_benchmark
    from deal.evaluation.detector_benchmark import benchmark_detector

    try:
        report, convention = benchmark_detector(
            detector,
            records,
            perturbations,
            convention=convention_from_args(args, threshold=detector.threshold if args.threshold is None else args.threshold),
            limit=args.limit,
            batch_size=args.batch_size,
            seed=args.seed,
            weights=args.detector or "bundled",
            progress=sys.stderr.isatty(),
        )
    except (DatasetError, ValueError) as err:  # a dataset that cannot be listed or planned: one sentence
        print(f"deal benchmark: error: {err}", file=sys.stderr)
        return 1
    written = _write(report, args.out)
    if written is None:
        return 2
    for name, baseline in baselines.items():  # under the detector's convention, on the same images
        try:
            scored = run_benchmark(baseline, records, [], convention=convention, limit=args.limit, seed=args.seed)
        except Exception as err:  # noqa: BLE001 - a baseline never costs the detector's results
            failure = f"the baseline failed: {type(err).__name__}: {err}"
            report["errors"].append({"dataset": "", "run": name, "image": "", "file": "", "error": failure})
        else:
            for row in scored["results"]:
                row.update(perturbation="baseline", strength=None, label=name)
            report["results"] += scored["results"]
            report["errors"] += [{**error, "run": name} for error in scored["errors"]]
        written = _write(report, args.out)
        if written is None:
            return 2
    n_plots = len(written) - 2
    print(benchmark_markdown(report), end="")
    print(f"\nwrote {written['markdown']}, {written['json']}" + (f" and {n_plots} plot(s)" if n_plots else ""))
    if report["errors"]:
        print(f"deal benchmark: {len(report['errors'])} image(s) failed; see Errors in {written['markdown']}", file=sys.stderr)
        return 1
    return 0


def _write(report: dict, out: str) -> dict | None:
    """write_benchmark_report, or None (and one sentence on stderr) when --out cannot be written."""
    import sys

    from deal.evaluation.benchmark import write_benchmark_report

    try:
        return write_benchmark_report(report, out)
    except OSError as err:
        print(f"deal benchmark: error: --out {out}: cannot write the report ({err})", file=sys.stderr)
        return None
