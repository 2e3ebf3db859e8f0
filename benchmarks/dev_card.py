"""The model card's row for every detector and floor on the CoCoGlide development split, in one command.

    python -m deal_benchmarks.dev_card --candidate new=new.safetensors --out reports/dev_card

For each predictor (predict-everything, the image-independent centre map, the spectral-slope cue, the shipped
detector, each ``--candidate``) on the 256 real GLIDE inpaintings of ``../shared/data/dev/CocoGlide`` and their
unedited originals:

- pixel AUC, its objectness control (the original's map scored against the same mask) and the lift, each
  with a 95% bootstrap interval over images (:class:`deal.metrics.LocalizationMetrics`, deal benchmark's
  convention: exact AUC, F1 at 0.5 and at the detector's calibrated threshold, MCC);
- the PAIRED difference in lift against the shipped detector and against the spectral-slope cue: per image,
  this predictor's lift minus the reference's on the same image, its mean and a 95% bootstrap interval over
  images (a gain whose interval includes 0 is not a gain);
- the verdict counts on the edits and on the originals, at the detector's own image thresholds.

``--half a`` / ``--half b`` keep the even / odd triplets of the split's sorted ``IDS.txt`` (the calibration
half and the other half: ``python -m deal_benchmarks.calibration_set`` writes the calibration manifest of
half a). The development split chooses and calibrates detectors; it never trains one.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
DEV = REPO.parent / "shared" / "data" / "dev" / "CocoGlide"
BUNDLED = REPO / "weights" / "deal-demo-tiny-synth.safetensors"
REFERENCES = ("shipped", "spectral-slope")  # the paired differences are taken against these rows

# The card's columns: metric key -> title (keys with an interval show it).
COLUMNS: dict[str, str] = {
    "pixel_auc": "pixel AUC", "pixel_auc_control": "control", "pixel_auc_lift": "lift",
    "lift_vs_shipped": "lift - shipped's (paired)", "lift_vs_spectral-slope": "lift - spectral-slope's (paired)",
    "pixel_f1": "F1@0.5", "pixel_f1_calibrated": "F1@cal.", "pixel_mcc": "MCC@cal.",
    "edits_called": "edits: edited / inconclusive / authentic", "originals_called": "originals: edited / inconclusive / authentic",
}  # fmt: skip

Predict = Callable[[np.ndarray], tuple[np.ndarray, float, str | None]]


def dev_triplets(root: Path, half: str = "all") -> list[tuple[str, str, str]]:
    """``(edit, mask, original)`` paths of the development split, in ``IDS.txt`` order; ``half`` "a" keeps the
    even positions, "b" the odd ones, "all" every triplet."""
    from deal.data.discover import discover_records

    by_name = {Path(r.image).stem: r for r in discover_records(root) if r.label == 1}
    lines = (root / "IDS.txt").read_text().splitlines()
    ids = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    keep = {"all": ids, "a": ids[0::2], "b": ids[1::2]}[half]
    return [(by_name[n].image, by_name[n].mask, by_name[n].original) for n in keep]


def synth_triplets(folder: Path) -> list[tuple[str, str, str]]:
    """``(edit, mask, original)`` of a ``deal data synth`` folder's edited images (its manifest's original column)."""
    import csv

    with open(folder / "manifest.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["label"] == "1" and r.get("original")]
    return [(str(folder / r["image"]), str(folder / r["mask"]), str(folder / r["original"])) for r in rows]


def detector_predictor(path: str) -> tuple[Predict, object]:
    """A detector file through the public API (its calibrated thresholds and verdict)."""
    from deal import Detector

    detector = Detector.load(path, device="cpu")

    def predict(image: np.ndarray) -> tuple[np.ndarray, float, str | None]:
        d = detector.predict(image)
        return d.heatmap, float(d.score), d.verdict

    return predict, detector


def baseline_predictor(name: str) -> Predict:
    """A registered training-free baseline (no thresholds of its own: no verdict)."""
    from deal.baselines import get_baseline
    from deal.metrics.image_score import image_score

    fn = get_baseline(name)

    def predict(image: np.ndarray) -> tuple[np.ndarray, float, str | None]:
        probs, score = fn(image)
        return probs, image_score(probs) if score is None else float(score), None

    return predict


def score_predictor(predict: Predict, triplets: list[tuple[str, str, str]], detector=None, bootstrap: int = 1000):  # noqa: ANN001
    """Runs ``predict`` on every edit and original: the headline metrics (LocalizationMetrics, with intervals),
    and per edit the lift (pixel AUC of the edit's map minus that of the original's, same mask), read from the
    metric's own per-image rows."""
    from deal.data.io import read_image, read_mask
    from deal.metrics.convention import MetricConvention
    from deal.metrics.localization import COLUMNS, LocalizationMetrics

    threshold = detector.threshold if detector is not None else 0.5
    thresholds = detector.image_thresholds if detector is not None else (0.0, 1.0)
    convention = MetricConvention(threshold=threshold, image_thresholds=thresholds, bootstrap=bootstrap)
    metrics = LocalizationMetrics(convention=convention)
    verdicts_e, verdicts_o = [], []
    for edit_path, mask_path, original_path in triplets:
        edit = read_image(edit_path)
        mask = read_mask(mask_path, expected_hw=edit.shape[:2], image_path=edit_path)
        heat_e, score_e, verdict_e = predict(edit)
        heat_o, score_o, verdict_o = predict(read_image(original_path))
        target = torch.from_numpy(mask).float()
        maps = [torch.from_numpy(np.ascontiguousarray(h)).float() for h in (heat_e, heat_o)]
        metrics.update([maps[0]], [target], [1], [score_e], controls=[maps[1]])
        metrics.update([maps[1]], [torch.zeros_like(target)], [0], [score_o])
        verdicts_e.append(verdict_e)
        verdicts_o.append(verdict_o)
    rows = metrics.per_image()
    edits = rows[rows[:, COLUMNS.index("label")] == 1]
    lifts = edits[:, COLUMNS.index("auc")] - edits[:, COLUMNS.index("auc_control")]
    return metrics.compute(), lifts, verdicts_e, verdicts_o


def paired_difference(a: np.ndarray, b: np.ndarray, bootstrap: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    """Mean of ``a - b`` over images (NaN-free pairs) and its 95% percentile bootstrap interval."""
    from deal.metrics.localization import bootstrap_weights

    d = a - b
    d = d[~np.isnan(d)]
    if d.size == 0:
        return math.nan, math.nan, math.nan
    means = np.concatenate([(w @ d) / w.sum(axis=1) for w in bootstrap_weights(d.size, bootstrap, seed)])
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(d.mean()), float(lo), float(hi)


def _counts(verdicts: list[str | None]) -> str | None:
    if not verdicts or verdicts[0] is None:
        return None
    return " / ".join(str(sum(v == k for v in verdicts)) for k in ("edited", "inconclusive", "authentic"))


def card_rows(predictors: dict[str, tuple[Predict, object]], triplets, bootstrap: int = 1000) -> dict[str, dict]:
    """One row per predictor (see the module doc); the paired columns need the reference rows' predictors."""
    rows: dict[str, dict] = {}
    lifts: dict[str, np.ndarray] = {}
    for name, (predict, detector) in predictors.items():
        start = time.perf_counter()
        m, lift, ve, vo = score_predictor(predict, triplets, detector, bootstrap)
        row: dict = {"seconds": round(time.perf_counter() - start, 1), "n": len(triplets)}
        for key in ("pixel_auc", "pixel_auc_control", "pixel_auc_lift", "pixel_f1", "pixel_f1_calibrated", "pixel_mcc"):
            value = float(m[key]) if key in m else math.nan
            row[key] = None if math.isnan(value) else round(value, 4)
            for end in ("lo", "hi"):
                bound = m.get(f"{key}_{end}")
                if bound is not None and not math.isnan(float(bound)):
                    row[f"{key}_{end}"] = round(float(bound), 4)
        if detector is None:
            row["pixel_f1_calibrated"] = row["pixel_mcc"] = None  # no calibrated threshold of its own
        row["edits_called"], row["originals_called"] = _counts(ve), _counts(vo)
        rows[name], lifts[name] = row, lift
    for name, row in rows.items():
        for ref in REFERENCES:
            if ref in lifts and ref != name:
                mean, lo, hi = paired_difference(lifts[name], lifts[ref], bootstrap)
                row[f"lift_vs_{ref}"], row[f"lift_vs_{ref}_lo"], row[f"lift_vs_{ref}_hi"] = (
                    round(mean, 4), round(lo, 4), round(hi, 4)
                )
    return rows


def _cell(row: dict, key: str) -> str:
    value = row.get(key)
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    lo, hi = row.get(f"{key}_lo"), row.get(f"{key}_hi")
    return f"{value:+.3f} [{lo:+.3f}, {hi:+.3f}]" if "lift" in key and lo is not None else (
        f"{value:.3f} [{lo:.3f}, {hi:.3f}]" if lo is not None else f"{value:.3f}"
    )


def markdown(report: dict) -> str:
    lines = [
        f"{report['set']}, half {report['half']}: {report['n']} edits and their "
        f"originals; {report['hardware']}. Brackets: 95% bootstrap interval over images ({report['bootstrap']} "
        "resamples, seed 0). The control is the same map of the unedited original scored against the same mask; "
        "the lift is edit minus control; the paired columns are this row's lift minus the reference's, image by image.",
        "",
        "| predictor | " + " | ".join(COLUMNS.values()) + " |",
        "|---|" + "---|" * len(COLUMNS),
    ]
    for name, row in report["rows"].items():
        lines.append(f"| {name} | " + " | ".join(_cell(row, k) for k in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--candidate", action="append", default=[], help="NAME=DETECTOR.safetensors (repeatable)")
    p.add_argument("--shipped", default=str(BUNDLED), help="the shipped detector file (the paired reference)")
    p.add_argument("--baseline", action="append", default=None,
                   help="registered baselines to score (default: predict-everything, centre where registered, spectral-slope)")  # fmt: skip
    p.add_argument("--dev", type=Path, default=DEV, help="the development split (CoCoGlide layout with IDS.txt)")
    p.add_argument("--half", choices=("all", "a", "b"), default="all")
    p.add_argument("--synth", type=Path, default=None,
                   help="score a deal data synth folder's edits and originals instead of the development split")
    p.add_argument("--bootstrap", type=int, default=1000)
    p.add_argument("--limit", type=int, default=0, help="only the first N triplets (a quick look; 0: all)")
    p.add_argument("--out", required=True, type=Path, help="folder for card.json and card.md")
    args = p.parse_args(argv)

    from deal.baselines import BASELINES
    from deal.evaluation.system import hardware_string
    from deal.fileio import atomic_write_text

    torch.set_num_threads(1)
    if args.synth is None and not (args.dev / "IDS.txt").is_file():
        print(f"dev_card: {args.dev}: not a development split (no IDS.txt)", file=sys.stderr)
        return 2
    candidates = []
    for item in args.candidate:
        name, sep, path = item.partition("=")
        if not sep or not Path(path).is_file():
            print(f"dev_card: --candidate {item!r}: expected NAME=FILE with an existing detector file", file=sys.stderr)
            return 2
        candidates.append((name, path))
    baselines = args.baseline or [b for b in ("predict-everything", "centre", "spectral-slope") if b in BASELINES]
    predictors: dict[str, tuple[Predict, object]] = {b: (baseline_predictor(b), None) for b in baselines}
    predictors["shipped"] = detector_predictor(args.shipped)
    for name, path in candidates:
        predictors[name] = detector_predictor(path)
    triplets = synth_triplets(args.synth) if args.synth else dev_triplets(args.dev, args.half)
    if args.limit:
        triplets = triplets[: args.limit]
    start = time.perf_counter()
    report = {
        "half": args.half, "n": len(triplets), "set": str(args.synth.name) if args.synth else "CocoGlide dev", "hardware": hardware_string("cpu"), "bootstrap": args.bootstrap,
        "files": {"shipped": Path(args.shipped).name, **{n: Path(f).name for n, f in candidates}},
        "rows": card_rows(predictors, triplets, args.bootstrap),
    }  # fmt: skip
    report["seconds"] = round(time.perf_counter() - start, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "card.json", json.dumps(report, indent=1) + "\n")
    atomic_write_text(args.out / "card.md", markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
