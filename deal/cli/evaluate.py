"""``deal evaluate``: localization metrics of prediction maps made by any tool."""

from __future__ import annotations

import argparse

from deal.cli.metric_options import add_metric_convention_arguments

HELP = "score prediction maps (.npy/.png/TruFor .npz) from any tool against a dataset's masks"
DESCRIPTION = """\
Score probability maps written by any tool against the ground truth of one or more datasets.

Maps are found recursively under --pred by the image's name or file stem: <name>.npy (float in
[0,1]), <name>.png (8-bit: value/255, 16-bit: value/65535) or TruFor's <name>.npz (key "map";
"score" is used as the image score when every file has one). When --pred holds a folder named
after a dataset (--pred preds --dataset CocoGlide=... and preds/CocoGlide/ exists), that dataset's
maps are looked up there. Every image needs a map of exactly its ground truth's size.

Metrics: F1/IoU at --threshold per image, mean over edited images (pixel_f1 is the headline),
per-image best F1, dataset-level F1, pixel AUC, image AUC/balanced accuracy, false-alarm area on
authentic images. The convention is printed with the table and stored in the JSON.

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
    add_metric_convention_arguments(parser)
    parser.add_argument(
        "--num-thresholds",
        type=int,
        default=None,
        metavar="K",
        help="best F1 / AUC on a K-step threshold grid (default: exact over all distinct values)",
    )


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from deal.cli.main import UsageError
    from deal.data.errors import DatasetError
    from deal.evaluation.datasets import load_datasets, parse_dataset_specs
    from deal.evaluation.evaluate import evaluate_predictions
    from deal.evaluation.predictions import PredictionError
    from deal.evaluation.report import markdown_table, write_json
    from deal.metrics.localization import METRIC_KEYS, describe_convention

    if not 0.0 <= args.threshold <= 1.0:
        raise UsageError(f"--threshold must be in [0, 1], got {args.threshold}")
    if args.num_thresholds is not None and args.num_thresholds < 2:
        raise UsageError(f"--num-thresholds must be at least 2, got {args.num_thresholds}")
    pred_root = Path(args.pred)
    if not pred_root.is_dir():
        raise UsageError(f"--pred {pred_root} is not a folder")
    try:
        datasets = parse_dataset_specs(args.dataset)
    except ValueError as err:
        raise UsageError(str(err)) from err

    convention = describe_convention(args.threshold, args.inverted_max, args.border_band, args.num_thresholds)
    results: dict[str, dict[str, float]] = {}
    pred_dirs: dict[str, str] = {}
    try:
        records = load_datasets(datasets, args.split)
        for name, recs in records.items():
            pred_dir = pred_root / name if (pred_root / name).is_dir() else pred_root
            pred_dirs[name] = str(pred_dir)
            results[name] = evaluate_predictions(
                pred_dir,
                recs,
                threshold=args.threshold,
                inverted_max=args.inverted_max,
                border_band=args.border_band,
                num_thresholds=args.num_thresholds,
                progress=sys.stderr.isatty(),
            )
    except (PredictionError, DatasetError) as err:
        print(f"deal evaluate: error: {err}", file=sys.stderr)
        return 1

    rows = [{"dataset": name, **metrics} for name, metrics in results.items()]
    print(f"Convention: {convention}\n")
    print(markdown_table(rows, ["dataset", *METRIC_KEYS]))
    if args.json:
        write_json(
            args.json,
            {
                "command": "evaluate",
                "convention": convention,
                "settings": {
                    "threshold": args.threshold,
                    "inverted_max": args.inverted_max,
                    "border_band": args.border_band,
                    "num_thresholds": args.num_thresholds,
                    "split": args.split,
                },
                "datasets": {name: str(path) for name, path in datasets.items()},
                "predictions": pred_dirs,
                "results": results,
            },
        )
        print(f"\nwrote {args.json}")
    return 0
