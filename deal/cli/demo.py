"""deal demo: the bundled detector on a handful of synthetic edits, end to end, offline, on the CPU."""

from __future__ import annotations

import argparse

HELP = "run the bundled demonstration detector on synthetic edits of scikit-image's photos"
DESCRIPTION = """Make a few edited images (with their true masks) from the photos that scikit-image ships,
run the bundled detector on them through the same code path as `deal detect`, write the outputs and the
HTML report, and print per-image and mean F1 against the true masks. No network, no GPU needed.

The bundled detector is a demonstration detector trained on synthetic edits (weights/MODEL_CARD.md), not
a forensic-grade MFPT: for real use train MFPT on DEAL-300K (README, "Train and benchmark").
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="deal_demo", help="output folder (default: ./deal_demo)")
    p.add_argument("--detector", help="detector file (default: the bundled one)")
    p.add_argument("--n", type=int, default=6, help="number of edited images (default 6)")
    p.add_argument("--size", type=int, default=256, help="side of the square demo images (default 256)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="auto|cpu|cuda|mps (default cpu)")


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    import cv2
    import numpy as np
    import torch
    from deal_data_tools.synth import make_edited_example, sample_photos

    from deal.inference import Detector
    from deal.metrics.functional import pixel_f1
    from deal.runs import run_detection

    out = Path(args.out)
    inputs, truth = out / "inputs", out / "truth"
    inputs.mkdir(parents=True, exist_ok=True)
    truth.mkdir(parents=True, exist_ok=True)
    photos = sample_photos()
    rng = np.random.default_rng(args.seed)
    names = []
    for i in range(args.n):
        name, photo = photos[i % len(photos)]
        edited, mask, history = make_edited_example(photo, rng, size=args.size)
        stem = f"{i:02d}_{name}"
        cv2.imwrite(str(inputs / f"{stem}.png"), np.ascontiguousarray(edited[..., ::-1]))
        cv2.imwrite(str(truth / f"{stem}.png"), mask.astype(np.uint8) * 255)
        names.append((stem, history))

    detector = Detector.load(args.detector, device=args.device)
    summary = run_detection([inputs], out / "results", detector, report="html", overwrite=True, quiet=True)
    records = {}
    with open(out / "results" / "results.jsonl", encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            records[Path(record["path"]).stem] = record
    print(f"{'image':<22} {'F1':>6} {'all-ones F1':>12} {'score':>6}  edit")
    f1s, floors = [], []
    for stem, history in names:
        true = torch.from_numpy(cv2.imread(str(truth / f"{stem}.png"), cv2.IMREAD_GRAYSCALE) > 127)
        pred = torch.from_numpy(cv2.imread(str(out / "results" / f"{stem}.png.mask.png"), cv2.IMREAD_GRAYSCALE) / 255.0)
        f1 = float(pixel_f1(pred, true, 0.5))
        a = float(true.float().mean())
        floor = 2 * a / (1 + a)  # F1 of flagging every pixel
        score = records[stem]["score"]
        f1s.append(f1)
        floors.append(floor)
        print(f"{stem:<22} {f1:6.3f} {floor:12.3f} {score:6.3f}  {history.split('|', 3)[-1]}")
    print(f"{'mean':<22} {np.mean(f1s):6.3f} {np.mean(floors):12.3f}")
    print(f"detector: {detector.name} (threshold {detector.threshold:.3f}); {summary.images_per_second:.1f} images/s")
    print(f"report: {(out / 'results' / 'report.html').resolve()}")
    return summary.exit_code
