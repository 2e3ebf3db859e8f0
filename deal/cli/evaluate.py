"""``deal evaluate``: localization metrics of prediction maps made by any tool."""

from __future__ import annotations

import argparse
from typing import Any

from deal.cli.metric_options import add_metric_convention_arguments

HELP = "score prediction maps (deal detect's outputs, .npy/.png/TruFor .npz) against a dataset's masks"
DESCRIPTION = """\
Score probability maps written by any tool against the ground truth of one or more datasets.

Maps are found recursively under --pred by the image's name or file stem: <name>.npy (float in
[0,1]), <name>.png (8-bit: value/255, 16-bit: value/65535) or TruFor's <name>.npz (key "map";
"score" is used as the image score when every file has one). When --pred holds a folder named
after a dataset (--pred preds --dataset CocoGlide=... and preds/CocoGlide/ exists), that dataset's
maps are looked up there. Every image needs a map of exactly its ground truth's size.

deal detect's output folder is read as it is: its records (results.jsonl, <file>.json) say which
npz (exact floats and score) or heatmap PNG (8-bit, with the record's score) belongs to which image;
without records, <file name>.npz and <file name>.heatmap.png (photo.png.npz) are looked up.

Maps for the edited images only (the usual localization protocol) are scored too: the localization
metrics over the edited images, and image AUC/bAcc and false alarm reported as not available.
A missing map for an edited image is an error listing them.

Metrics (every key defined in docs/metrics.md): F1 at 0.5 (pixel_f1) and at --threshold
(pixel_f1_calibrated), IoU and MCC at --threshold per image, mean over edited images; per-image
best F1, dataset-level F1, pixel AUC, image AUC/balanced accuracy, false-alarm area on authentic
images; seeded 95% bootstrap intervals over images (<key>_lo, <key>_hi). Objectness control: an
edited image whose dataset names its unedited original (CoCoGlide real/, DEAL-300K originals, a
manifest's original column) and whose original has a map under --pred (deal detect run on the
originals too) has that map scored against the same mask (pixel_auc_control, pixel_auc_lift,
pixel_f1_best_control, pixel_f1_best_lift). The convention is printed with the table and stored
in the JSON. For deal
detect's outputs, the pixel threshold defaults to detect's (from its records, as deal benchmark
defaults to the detector's calibrated one) and image bAcc is that of detect's verdict (its two
image thresholds, from the records); other maps default to 0.5 for all three.

example:
  deal evaluate --pred trufor_out --dataset CocoGlide=/data/CocoGlide --json cocoglide.json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pred", required=True, metavar="DIR", help="folder of prediction maps (searched recursively)"
    )
    parser.add_argument(
        "--dataset",
        required=True,
        action="append",
        metavar="NAME=DIR",
        help="dataset to score (repeatable); any layout deal.data understands",
    )
    parser.add_argument("--split", default=None, help="only records of this split (train/val/test)")
    parser.add_argument(
        "--json", default=None, metavar="FILE", help="also write the numbers and settings here"
    )
    add_metric_convention_arguments(
        parser,
        threshold_default=None,
        threshold_help="a pixel is flagged when prob > T (default: deal detect's threshold, read from its "
        "records, else 0.5)",
    )
    parser.add_argument(
        "--num-thresholds",
        type=int,
        default=None,
        metavar="K",
        help="best F1 / AUC on a K-step threshold grid (default: exact over all distinct values)",
    )


def run(args: argparse.Namespace) -> int:
    import sys

    from deal.data.errors import DatasetError
    from deal.evaluation.predictions import PredictionError

    pred_root, datasets_records, convention = _checked_usage(args)
    try:
        results, pred_dirs = _evaluate_datasets(args, pred_root, datasets_records, convention)
    except (PredictionError, DatasetError) as err:
        print(f"deal evaluate: error: {err}", file=sys.stderr)
        return 1
    described = _described_conventions(results)
    _print_results(args, results, described)
    if args.json:
        return _write_report(args, convention, results, described, pred_dirs)
    return 0


def _checked_usage(args: argparse.Namespace) -> tuple:
    """Usage checks first, torch-free: one sentence and exit 2 in well under a second. Returns the prediction
    folder, the records of each dataset and the metric convention."""
    from pathlib import Path

    from deal.cli import checks
    from deal.cli.metric_options import convention_from_args
    from deal.errors import UsageError

    checks.check_unit_interval(args.threshold, "--threshold")
    checks.check_at_least(args.num_thresholds, 2, "--num-thresholds")
    checks.check_at_least(args.bootstrap, 0, "--bootstrap")
    pred_root = Path(args.pred)
    if not pred_root.is_dir():
        problem = "is not a folder" if pred_root.exists() else "no such folder"
        raise UsageError(f"--pred {pred_root}: {problem}")
    datasets_records = checks.check_datasets(args.dataset, args.split)
    if args.json:
        checks.check_output_file(args.json, "--json")
    try:
        convention = convention_from_args(args)
    except ValueError as err:
        raise UsageError(str(err)) from err
    return pred_root, datasets_records, convention


def _evaluate_datasets(args: argparse.Namespace, pred_root: Any, datasets_records: dict, convention: Any) -> tuple:
    """``({dataset: metrics}, {dataset: prediction folder})``: a dataset's maps are in ``--pred/NAME`` when that
    folder exists, else in ``--pred``."""
    import sys

    from deal.evaluation.evaluate import evaluate_predictions

    results: dict[str, dict] = {}
    pred_dirs: dict[str, str] = {}
    for name, recs in datasets_records.items():
        pred_dir = pred_root / name if (pred_root / name).is_dir() else pred_root
        pred_dirs[name] = str(pred_dir)
        results[name] = evaluate_predictions(
            pred_dir, recs, convention, threshold_from_records=args.threshold is None, progress=sys.stderr.isatty()
        )
    return results, pred_dirs


def _described_conventions(results: dict[str, dict]) -> str | dict[str, str]:
    """One convention line, or one per dataset when deal detect's records set different thresholds."""
    from deal.metrics.convention import MetricConvention

    pairs = {name: (m["threshold"], tuple(m["image_thresholds"])) for name, m in results.items()}
    conventions = {pairs[name]: MetricConvention.from_dict(m["convention"]).describe() for name, m in results.items()}
    if len(conventions) == 1:
        return next(iter(conventions.values()))
    return {name: conventions[pair] for name, pair in pairs.items()}


def _print_results(args: argparse.Namespace, results: dict[str, dict], described: str | dict[str, str]) -> None:
    """The convention, the table, and per dataset: the maps read, the thresholds used, what is not available."""
    from deal.evaluation.report import markdown_table
    from deal.metrics.keys import METRIC_KEYS

    if isinstance(described, str):
        print(f"Convention: {described}\n")
    else:
        print("".join(f"Convention ({name}): {text}\n" for name, text in described.items()))
    print(markdown_table([{"dataset": name, **metrics} for name, metrics in results.items()], ["dataset", *METRIC_KEYS]))
    for name, metrics in results.items():
        sources = ", ".join(f"{n} {kind}" for kind, n in metrics["map_sources"].items())
        print(f"\n{name}: maps read: {sources}")
        reasons = metrics.get("not_available") or {}
        if args.threshold is None and metrics["threshold"] != 0.5:
            print(f"{name}: pixel threshold {metrics['threshold']:g} (deal detect's, from its records)")
        low, high = metrics["image_thresholds"]
        if (low, high) != (metrics["threshold"],) * 2 and "image_bacc" not in reasons:
            print(
                f"{name}: image bAcc of the verdict at image thresholds {low:g}, {high:g} (deal detect's, from its "
                "records)"
            )
        for reason in dict.fromkeys(reasons.values()):
            keys = ", ".join(k for k, r in reasons.items() if r == reason)
            print(f"{name}: {keys} not available: {reason}.")


def _write_report(
    args: argparse.Namespace, convention: Any, results: dict[str, dict], described: Any, pred_dirs: dict[str, str]
) -> int:
    """--json: the numbers and settings; exit 2 when the file cannot be written."""
    import sys

    from deal.evaluation.datasets import parse_dataset_specs
    from deal.fileio import write_json

    thresholds = {m["threshold"] for m in results.values()}
    image_thresholds = {tuple(m["image_thresholds"]) for m in results.values()}
    report = {
        "command": "evaluate",
        "convention": described,
        "settings": {
            **convention.to_dict(),
            # the thresholds used; None when they differ between datasets (each result has its own)
            "threshold": thresholds.pop() if len(thresholds) == 1 else None,
            "image_thresholds": image_thresholds.pop() if len(image_thresholds) == 1 else None,
            "split": args.split,
        },
        "datasets": {name: str(path) for name, path in parse_dataset_specs(args.dataset).items()},
        "predictions": pred_dirs,
        "results": results,
    }
    try:
        write_json(args.json, report)
    except OSError as err:
        print(f"deal evaluate: error: --json {args.json}: cannot write this file ({err.strerror or err})", file=sys.stderr)
        return 2
    print(f"\nwrote {args.json}")
    return 0
