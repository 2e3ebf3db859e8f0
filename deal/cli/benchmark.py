"""``deal benchmark``: a detector's metrics on datasets, clean and under perturbations."""

from __future__ import annotations

import argparse

from deal.cli.metric_options import add_metric_convention_arguments

HELP = "benchmark a detector on datasets, clean and under JPEG/resize/blur/noise perturbations"
DESCRIPTION = """\
Run a detector over every dataset, unperturbed ("none") and under each --perturb strength, and
report the localization metrics of each run (same convention as `deal evaluate`, named in the
report), images/s, peak memory and the hardware.

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
    add_metric_convention_arguments(parser)
    parser.add_argument(
        "--batch-size",
        type=int,
        default=1,
        metavar="N",
        help="images per detector call (default 1: Detector.predict)",
    )
    parser.add_argument("--seed", type=int, default=0, help="base seed of the noise perturbation (default 0)")
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="also score the predict-everything floor (every pixel edited, score 1) on the same images",
    )


class _DetectorBatch:
    """The batch variant of the benchmark's predictor protocol over ``Detector.predict_many``."""

    def __init__(self, detector) -> None:
        self.detector = detector

    def predict_batch(self, images):
        return [(d.heatmap, d.score) for d in self.detector.predict_many(images, batch_size=len(images))]


def _detector_predictor(detector, batch_size: int):
    """``image -> (heatmap, score)`` over ``Detector.predict``, or the batch variant when batch_size > 1."""
    if batch_size > 1:
        return _DetectorBatch(detector)

    def predict(image):
        detection = detector.predict(image)
        return detection.heatmap, detection.score

    return predict


def _predict_everything(image):
    """The floor every localization result is set against: every pixel edited, image score 1."""
    import numpy as np

    return np.ones(image.shape[:2], np.float32), 1.0


def run(args: argparse.Namespace) -> int:
    import sys

    from deal.cli.main import UsageError
    from deal.data.errors import DatasetError
    from deal.evaluation.benchmark import benchmark_markdown, run_benchmark, write_benchmark_report
    from deal.evaluation.datasets import load_datasets, parse_dataset_specs
    from deal.evaluation.perturb import parse_perturbation

    if not 0.0 <= args.threshold <= 1.0:
        raise UsageError(f"--threshold must be in [0, 1], got {args.threshold}")
    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit must be at least 1, got {args.limit}")
    try:
        datasets = parse_dataset_specs(args.dataset)
        perturbations = [p for spec in args.perturb for p in parse_perturbation(spec)]
    except ValueError as err:
        raise UsageError(str(err)) from err
    try:
        records = load_datasets(datasets, args.split)
    except DatasetError as err:
        print(f"deal benchmark: error: {err}", file=sys.stderr)
        return 1

    from deal.inference.detector import Detector

    try:
        detector = Detector.load(path=args.detector, device=args.device)
    except FileNotFoundError as err:
        raise UsageError(str(err)) from err

    predictor = _detector_predictor(detector, args.batch_size)
    # The same metric convention for the detector's rows and the --baseline rows.
    convention = {"threshold": args.threshold, "inverted_max": args.inverted_max, "border_band": args.border_band}
    try:
        report = run_benchmark(
            predictor,
            records,
            perturbations,
            **convention,
            limit=args.limit,
            batch_size=args.batch_size,
            seed=args.seed,
            device=str(getattr(detector, "device", "cpu")),
            predictor_info={
                "name": getattr(detector, "name", type(detector).__name__),
                "sha256": getattr(detector, "sha256", None),
                "weights": args.detector or "bundled",
            },
            progress=sys.stderr.isatty(),
        )
    except DatasetError as err:
        print(f"deal benchmark: error: {err}", file=sys.stderr)
        return 1
    if args.baseline:
        floor = run_benchmark(_predict_everything, records, [], **convention, limit=args.limit, seed=args.seed)
        for row in floor["results"]:
            row.update(perturbation="baseline", strength=None, label="predict-everything")
        report["results"] += floor["results"]
    written = write_benchmark_report(report, args.out)
    n_plots = len(written) - 2
    print(benchmark_markdown(report), end="")
    print(
        f"\nwrote {written['markdown']}, {written['json']}" + (f" and {n_plots} plot(s)" if n_plots else "")
    )
    return 0
