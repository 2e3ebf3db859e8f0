"""Every figure of a detector's model card, in one command: JSON + a markdown table.

    python benchmarks/detector_card.py --detector weights/deal-demo-tiny-synth.safetensors \\
        --synth synth/val_a --synth synth/val_b --out reports/card

(a) CocoGlide fixture (16 GLIDE inpaintings + 16 originals): F1 at 0.5 and at the detector's calibrated
    threshold, MCC, best F1, pixel AUC, the objectness control (the originals' maps scored against the same
    masks) and the lift, image AUC, the verdict's shares on each half, each headline figure with its 95%
    bootstrap interval over images; with ``--baseline NAME`` the same for registered baselines;
(b) DEAL-300K fixture (3 InstructPix2Pix edits): the same figures;
(c) held-out synthetic edits (``deal data synth`` folders, e.g. BSDS500 test and Kodak), per operation
    family (``generator``: the TAEF2 operations; ``classic``: the others) and per operation;
(d) false alarms on authentic photos never trained on (BSDS500 test, Kodak, the CoCoGlide originals):
    the fraction whose verdict is "edited" and the mean flagged area (pixels over the mask threshold).

Every row carries the predict-everything floor on the same images (every pixel flagged, every image
called edited). The model runs through the public API (:meth:`deal.Detector.predict`: its calibrated
thresholds, its verdict), so the script measures whatever the detector file and the package say; metrics
are the repository's (:class:`deal.metrics.LocalizationMetrics`: per-image F1 averaged over edited images).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
GENERATOR_OPS = ("regenerate", "latent_splice", "hallucinate", "latent_upsample", "full_regen")


def _records(path: Path) -> list[tuple[str, str | None, int, str, str | None]]:
    """``(image, mask, label, group, original)`` of a dataset; synth folders get the operation as their group
    (and the original of each edit, from the manifest's original column, for the objectness control)."""
    manifest = path / "manifest.csv"
    if manifest.is_file():
        from deal_data_tools.shortcut_stats import operation_of

        with open(manifest, newline="") as f:
            return [
                (str(path / r["image"]), str(path / r["mask"]) if r["label"] == "1" else None, int(r["label"]),
                 operation_of(r["edit"]), str(path / r["original"]) if r.get("original") else None)
                for r in csv.DictReader(f)
            ]  # fmt: skip
    from deal.data.discover import discover_records

    return [(r.image, r.mask, r.label, "", r.original) for r in discover_records(path)]


def _photos(path: Path) -> list[tuple[str, None, int, str, None]]:
    from deal_data_tools.synthesis.io import list_images

    return [(str(p), None, 0, "", None) for p in list_images(path)]


# The card's columns: metric key -> title. Keys with a bootstrap interval show it.
CARD_COLUMNS: dict[str, str] = {
    "pixel_f1": "F1@0.5", "pixel_f1_calibrated": "F1@cal.", "pixel_f1_best": "F1 best",
    "pixel_mcc": "MCC@cal.", "pixel_auc": "pixel AUC", "pixel_auc_control": "AUC control",
    "pixel_auc_lift": "AUC lift", "pixel_f1_best_control": "F1 best control", "pixel_f1_best_lift": "F1 best lift",
    "image_auc": "image AUC", "edited_called_edited": "edited called edited",
    "authentic_called_edited": "authentic called edited", "authentic_called_authentic": "authentic called authentic",
    "authentic_flagged_area": "authentic flagged area", "floor_f1": "predict-everything F1@0.5",
}  # fmt: skip


class _Scorer:
    """Accumulates one set of images under the detector's convention (deal.metrics.LocalizationMetrics: F1 at 0.5
    and at the calibrated threshold, the objectness control, bootstrap intervals), plus the verdict shares."""

    def __init__(self, convention) -> None:  # noqa: ANN001
        from deal.metrics.localization import LocalizationMetrics

        self.threshold = convention.threshold
        self.metrics = LocalizationMetrics(convention=convention)
        self.floor_f1: list[float] = []
        self.called: list[str] = []
        self.flagged: list[float] = []
        self.labels: list[int] = []

    def add(self, heatmap: np.ndarray, mask: np.ndarray, label: int, score: float, verdict: str,
            control: np.ndarray | None = None) -> None:  # fmt: skip
        probs, target = torch.from_numpy(heatmap).float(), torch.from_numpy(mask).float()
        ctrl = None if control is None else torch.from_numpy(control).float()
        self.metrics.update([probs], [target], [label], [score], controls=[ctrl])
        if label == 1 and mask.any():
            a = float(mask.mean())
            self.floor_f1.append(2 * a / (1 + a))
        self.called.append(verdict)
        self.flagged.append(float((heatmap > self.threshold).mean()))
        self.labels.append(label)

    def row(self) -> dict[str, float | int | None]:
        m = self.metrics.compute()
        lab = np.array(self.labels)
        called, flagged = np.array(self.called), np.array(self.flagged)

        def mean(x: np.ndarray) -> float | None:
            return float(x.mean()) if x.size else None

        def clean(v: float | None) -> float | None:
            return None if v is None or (isinstance(v, float) and math.isnan(v)) else round(float(v), 4)

        row: dict[str, float | int | None] = {"n_edited": int((lab == 1).sum()), "n_authentic": int((lab == 0).sum())}
        for key in CARD_COLUMNS:
            if key in m:
                row[key] = clean(m[key])
                if f"{key}_lo" in m:
                    row[f"{key}_lo"], row[f"{key}_hi"] = clean(m[f"{key}_lo"]), clean(m[f"{key}_hi"])
        row["n_control"] = int(m["n_control"])
        row["edited_called_edited"] = clean(mean((called[lab == 1] == "edited").astype(float)))
        row["authentic_called_edited"] = clean(mean((called[lab == 0] == "edited").astype(float)))
        row["authentic_called_authentic"] = clean(mean((called[lab == 0] == "authentic").astype(float)))
        row["authentic_flagged_area"] = clean(mean(flagged[lab == 0]))
        row["floor_f1"] = clean(float(np.mean(self.floor_f1)) if self.floor_f1 else None)
        return row


def _predictor(detector, baseline: str | None):  # noqa: ANN001, ANN202
    """image -> (heatmap, score, verdict): the detector's (Detector.predict), or a registered baseline's map and
    score judged with the detector's image thresholds."""
    if baseline is None:
        def predict(image: np.ndarray) -> tuple[np.ndarray, float, str]:
            det = detector.predict(image)
            return det.heatmap, float(det.score), det.verdict

        return predict
    from deal.baselines import get_baseline
    from deal.metrics.image_score import image_score, verdict

    fn = get_baseline(baseline)

    def predict_baseline(image: np.ndarray) -> tuple[np.ndarray, float, str]:
        probs, score = fn(image)
        score = image_score(probs) if score is None else float(score)
        return probs, score, verdict(score, *detector.image_thresholds)

    return predict_baseline


def evaluate(detector, items: list[tuple], by_group: bool = False, baseline: str | None = None,  # noqa: ANN001
             bootstrap: int = 1000) -> dict:  # fmt: skip
    """Rows ``{"all": row}`` (and one per group and family when ``by_group``) over ``items``; an edited item
    with an original also has the original predicted, scored against the same mask (the objectness control)."""
    from deal.data.io import read_image, read_mask
    from deal.metrics.convention import MetricConvention

    # deal benchmark's convention for this detector (exact best F1 and AUC): the card's figures are its figures
    convention = MetricConvention(
        threshold=detector.threshold, image_thresholds=detector.image_thresholds, bootstrap=bootstrap
    )
    predict = _predictor(detector, baseline)
    scorers: dict[str, _Scorer] = defaultdict(lambda: _Scorer(convention))
    authentic: list[tuple] = []
    for image_path, mask_path, label, group, original in items:
        image = read_image(image_path)
        heatmap, score, verdict = predict(image)
        mask = read_mask(mask_path) if mask_path else np.zeros(image.shape[:2], np.uint8)
        control = None
        if label == 1 and original:
            import torch

            from deal.modeling.input_policy import resize_map

            control = resize_map(torch.from_numpy(predict(read_image(original))[0]), mask.shape).numpy()
        args = (heatmap, mask, label, score, verdict, control)
        scorers["all"].add(*args)
        if by_group:
            if label == 0:
                authentic.append(args)
                continue
            scorers[group].add(*args)
            scorers["family:generator" if group in GENERATOR_OPS else "family:classic"].add(*args)
    for key in list(scorers):  # every group also gets the authentic images (image AUC, false alarms)
        if key != "all":
            for args in authentic:
                scorers[key].add(*args)
    return {k: s.row() for k, s in sorted(scorers.items())}


def _cell(row: dict, key: str) -> str:
    value = row.get(key)
    if value is None:
        return "-"
    lo, hi = row.get(f"{key}_lo"), row.get(f"{key}_hi")
    return f"{value:.3f} [{lo:.3f}, {hi:.3f}]" if lo is not None and hi is not None else f"{value:.3f}"


def _markdown(report: dict) -> str:
    from deal.metrics.keys import CONTROL_SENTENCE

    lines = [
        f"Detector `{report['detector']}` (sha256 {report['sha256'][:12]}...), pixel threshold "
        f"{report['threshold']:g}, image thresholds {report['image_thresholds'][0]:g}, {report['image_thresholds'][1]:g}; "
        f"{report['hardware']}, "
        f"{report['seconds']:.0f} s. Predict-everything floor: F1 as given, pixel and image AUC 0.5, AUC lift 0, "
        "every image called edited, flagged area 1.0. Brackets: 95% bootstrap interval over images "
        f"({report['bootstrap']} resamples, seed 0). {CONTROL_SENTENCE}.",
        "",
        "| set | edited + authentic (controls) | " + " | ".join(CARD_COLUMNS.values()) + " |",
        "|---|---|" + "---|" * len(CARD_COLUMNS),
    ]
    for name, row in report["rows"].items():
        cells = [_cell(row, k) for k in CARD_COLUMNS]
        lines.append(
            f"| {name} | {row['n_edited']} + {row['n_authentic']} ({row['n_control']}) | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--detector", default=str(REPO / "weights" / "deal-demo-tiny-synth.safetensors"))
    p.add_argument("--out", required=True, type=Path, help="folder for card.json and card.md")
    p.add_argument("--synth", action="append", default=[], type=Path, help="held-out deal data synth folder")
    p.add_argument("--cocoglide", type=Path, default=SHARED / "fixtures" / "CocoGlide")
    p.add_argument("--deal300k", type=Path, default=SHARED / "fixtures" / "DEAL-300K")
    p.add_argument(
        "--authentic", action="append", default=None, type=Path,
        help="folder of authentic photos never trained on (default: BSDS500 test, Kodak)",
    )  # fmt: skip
    p.add_argument("--limit", type=int, default=None, help="at most this many images per synth/authentic set")
    p.add_argument("--threshold", type=float, default=None, help="override the calibrated pixel threshold")
    p.add_argument(
        "--baseline", action="append", default=[],
        help="also score this registered baseline (deal.baselines) on the fixtures, under the detector's thresholds",
    )  # fmt: skip
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples of the intervals (0: none)")
    args = p.parse_args(argv)

    from deal import Detector
    from deal.evaluation.system import hardware_string
    from deal.fileio import atomic_write_text

    torch.set_num_threads(1)
    authentic = args.authentic or [SHARED / "natural" / "BSDS500" / "test", SHARED / "natural" / "Kodak"]
    for path in [args.cocoglide, args.deal300k, *args.synth, *authentic]:
        if not path.exists():
            print(f"detector_card: {path}: not found", file=sys.stderr)
            return 2
    detector = Detector.load(args.detector, threshold=args.threshold, device="cpu")
    start = time.perf_counter()
    rows: dict[str, dict] = {}
    coco = _records(args.cocoglide)
    deal300k = _records(args.deal300k)
    rows["(a) CocoGlide fixture"] = evaluate(detector, coco, bootstrap=args.bootstrap)["all"]
    rows["(b) DEAL-300K fixture"] = evaluate(detector, deal300k, bootstrap=args.bootstrap)["all"]
    for name in args.baseline:
        rows[f"(a) CocoGlide fixture: baseline {name}"] = evaluate(detector, coco, baseline=name, bootstrap=args.bootstrap)["all"]
        rows[f"(b) DEAL-300K fixture: baseline {name}"] = evaluate(
            detector, deal300k, baseline=name, bootstrap=args.bootstrap
        )["all"]
    for path in args.synth:
        items = _records(path)
        if args.limit:
            items = items[: args.limit]
        for key, row in evaluate(detector, items, by_group=True, bootstrap=args.bootstrap).items():
            rows[f"(c) synth {path.parent.name}/{path.name}: {key}"] = row
    for path in authentic:
        items = _photos(path)[: args.limit] if args.limit else _photos(path)
        rows[f"(d) authentic {path.parent.name}/{path.name}"] = evaluate(detector, items, bootstrap=args.bootstrap)["all"]
    rows["(d) authentic CocoGlide originals"] = evaluate(
        detector, [r for r in coco if r[2] == 0], bootstrap=args.bootstrap
    )["all"]
    report = {
        "detector": Path(args.detector).name,
        "sha256": detector.sha256 or "",
        "threshold": detector.threshold,
        "image_thresholds": list(detector.image_thresholds),
        "hardware": hardware_string("cpu"),
        "bootstrap": args.bootstrap,
        "seconds": time.perf_counter() - start,
        "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "card.json", json.dumps(report, indent=1) + "\n")
    atomic_write_text(args.out / "card.md", _markdown(report))
    print(_markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
