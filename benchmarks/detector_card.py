"""Every figure of a detector's model card, in one command: JSON + a markdown table.

    python benchmarks/detector_card.py --detector weights/deal-demo-tiny-synth.safetensors \\
        --synth synth/val_a --synth synth/val_b --out reports/card

(a) CocoGlide fixture (16 GLIDE inpaintings + 16 originals): F1 at 0.5 and at the detector's calibrated
    threshold, best F1, pixel AUC, image AUC, the verdict's share of "edited" on each half;
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


def _records(path: Path) -> list[tuple[str, str | None, int, str]]:
    """``(image, mask, label, group)`` of a dataset; synth folders get the operation as their group."""
    manifest = path / "manifest.csv"
    if manifest.is_file():
        from deal_data_tools.shortcut_stats import operation_of

        with open(manifest, newline="") as f:
            return [
                (str(path / r["image"]), str(path / r["mask"]) if r["label"] == "1" else None, int(r["label"]),
                 operation_of(r["edit"]))
                for r in csv.DictReader(f)
            ]  # fmt: skip
    from deal.data.discover import discover_records

    return [(r.image, r.mask, r.label, "") for r in discover_records(path)]


def _photos(path: Path) -> list[tuple[str, None, int, str]]:
    from deal_data_tools.synthesis.io import list_images

    return [(str(p), None, 0, "") for p in list_images(path)]


class _Scorer:
    """Accumulates the metrics of one set of images at both thresholds, plus the floor."""

    def __init__(self, threshold: float) -> None:
        from deal.metrics.localization import LocalizationMetrics

        self.threshold = threshold
        self.at_half = LocalizationMetrics(threshold=0.5, num_thresholds=256)
        self.at_cal = LocalizationMetrics(threshold=threshold, num_thresholds=256)
        self.floor_f1: list[float] = []
        self.called: list[int] = []
        self.flagged: list[float] = []
        self.labels: list[int] = []

    def add(self, heatmap: np.ndarray, mask: np.ndarray, label: int, score: float, verdict: str) -> None:
        probs, target = torch.from_numpy(heatmap).float(), torch.from_numpy(mask).float()
        for m in (self.at_half, self.at_cal):
            m.update([probs], [target], [label], [score])
        if label == 1 and mask.any():
            a = float(mask.mean())
            self.floor_f1.append(2 * a / (1 + a))
        self.called.append(int(verdict == "edited"))
        self.flagged.append(float((heatmap > self.threshold).mean()))
        self.labels.append(label)

    def row(self) -> dict[str, float | int | None]:
        half, cal = self.at_half.compute(), self.at_cal.compute()
        lab = np.array(self.labels)
        called, flagged = np.array(self.called, float), np.array(self.flagged)

        def mean(x: np.ndarray) -> float | None:
            return float(x.mean()) if x.size else None

        def clean(v: float) -> float | None:
            return None if v is None or (isinstance(v, float) and math.isnan(v)) else round(float(v), 4)

        return {
            "n_edited": int((lab == 1).sum()),
            "n_authentic": int((lab == 0).sum()),
            "f1_at_0.5": clean(half["pixel_f1"]),
            "f1_at_cal": clean(cal["pixel_f1"]),
            "f1_best": clean(cal["pixel_f1_best"]),
            "pixel_auc": clean(cal["pixel_auc"]),
            "image_auc": clean(cal["image_auc"]),
            "edited_called_edited": clean(mean(called[lab == 1])),
            "authentic_called_edited": clean(mean(called[lab == 0])),
            "authentic_flagged_area": clean(mean(flagged[lab == 0])),
            "floor_f1": clean(float(np.mean(self.floor_f1)) if self.floor_f1 else None),
        }


def evaluate(detector, items: list[tuple[str, str | None, int, str]], by_group: bool = False) -> dict:  # noqa: ANN001
    """Rows ``{"all": row}`` (and one per group and family when ``by_group``) over ``items``."""
    from deal.data.io import read_image, read_mask

    scorers: dict[str, _Scorer] = defaultdict(lambda: _Scorer(detector.threshold))
    authentic: list[tuple] = []
    for image_path, mask_path, label, group in items:
        image = read_image(image_path)
        det = detector.predict(image)
        mask = read_mask(mask_path) if mask_path else np.zeros(image.shape[:2], np.uint8)
        args = (det.heatmap, mask, label, float(det.score), det.verdict)
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


def _markdown(report: dict) -> str:
    cols = [
        ("f1_at_0.5", "F1@0.5"), ("f1_at_cal", f"F1@{report['threshold']:g} (cal.)"), ("f1_best", "F1 best"),
        ("pixel_auc", "pixel AUC"), ("image_auc", "image AUC"), ("edited_called_edited", "edited called edited"),
        ("authentic_called_edited", "authentic called edited"), ("authentic_flagged_area", "authentic flagged area"),
        ("floor_f1", "predict-everything F1"),
    ]  # fmt: skip
    lines = [
        f"Detector `{report['detector']}` (sha256 {report['sha256'][:12]}...), pixel threshold "
        f"{report['threshold']:g}, image thresholds {report['image_thresholds'][0]:g}, {report['image_thresholds'][1]:g}; "
        f"{report['hardware']}, "
        f"{report['seconds']:.0f} s. Predict-everything floor: F1 as given, pixel and image AUC 0.5, every "
        "image called edited, flagged area 1.0.",
        "",
        "| set | edited + authentic | " + " | ".join(c[1] for c in cols) + " |",
        "|---|---|" + "---|" * len(cols),
    ]
    for name, row in report["rows"].items():
        cells = ["-" if row[k] is None else f"{row[k]:.3f}" for k, _ in cols]
        lines.append(f"| {name} | {row['n_edited']} + {row['n_authentic']} | " + " | ".join(cells) + " |")
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
    rows["(a) CocoGlide fixture"] = evaluate(detector, coco)["all"]
    rows["(b) DEAL-300K fixture"] = evaluate(detector, _records(args.deal300k))["all"]
    for path in args.synth:
        items = _records(path)
        if args.limit:
            items = items[: args.limit]
        for key, row in evaluate(detector, items, by_group=True).items():
            rows[f"(c) synth {path.parent.name}/{path.name}: {key}"] = row
    for path in authentic:
        items = _photos(path)[: args.limit] if args.limit else _photos(path)
        rows[f"(d) authentic {path.parent.name}/{path.name}"] = evaluate(detector, items)["all"]
    rows["(d) authentic CocoGlide originals"] = evaluate(detector, [r for r in coco if r[2] == 0])["all"]
    report = {
        "detector": Path(args.detector).name,
        "sha256": detector.sha256 or "",
        "threshold": detector.threshold,
        "image_thresholds": list(detector.image_thresholds),
        "hardware": hardware_string("cpu"),
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
