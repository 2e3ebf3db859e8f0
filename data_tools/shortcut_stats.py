"""Shortcut statistics: can a cheap pixel statistic find the edit without any detector?

For each dataset (and, for ``deal data synth`` folders, each edit operation) the pixel AUC of five cheap
per-pixel scores against the true mask, averaged over the edited images (each image's AUC over its own
pixels, so the score need only rank pixels within an image):

- ``smooth``: minus the mean |Laplacian| of the grey image in a 9x9 window (high = less local high-frequency
  energy than elsewhere);
- ``quiet``: minus the local noise level, the mean |grey - median3x3(grey)| in a 9x9 window;
- ``gridless``: minus the JPEG 8x8 grid strength, the mean over a 16x16 window of the excess of the absolute
  difference across 8x8 block boundaries over the one inside blocks;
- ``saturation``: the HSV saturation averaged in a 9x9 window (colour);
- ``finest_deficit``: minus the log ratio of the finest difference-of-Gaussians band's local energy to
  the next band's (:func:`deal.modeling.band_energy.finest_band_log_ratio`): high = less of the finest band
  than of the next, the trace diffusion models leave. Real edits score well above 0.5 here; a synthetic
  operation should too, while ``smooth`` stays near 0.5 (not smoother overall).

0.5 means the statistic says nothing; far from 0.5 in either direction, the statistic alone separates the
edit, i.e. a shortcut. An operation whose AUCs differ much from the real fixtures' teaches a detector a cue
real edits do not offer (the bundled detector learned "smooth = edited": resample-resynthesis scores 0.8 on
``smooth`` while real diffusion inpaintings score below 0.5).

Usage::

    python -m deal_data_tools.shortcut_stats --dataset CocoGlide16=../shared/data/fixtures/CocoGlide \\
        --dataset synth=synth/val_a --out reports/shortcuts        # writes shortcuts.json + shortcuts.md

Synth folders (a ``manifest.csv`` with an ``edit`` column) are split per operation; other datasets are
read with :func:`deal.data.discover.discover_records`.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

__all__ = ["STATISTICS", "main", "operation_of", "pixel_auc", "statistic_maps"]

STATISTICS: tuple[str, ...] = ("smooth", "quiet", "gridless", "saturation", "finest_deficit")
_MAX_PIXELS = 40_000  # pixels sampled per image for the AUC (a fixed grid, deterministic)


def statistic_maps(rgb: np.ndarray) -> dict[str, np.ndarray]:
    """The per-pixel scores of an ``HxWx3 uint8`` RGB image (higher = "looks edited" by that cue)."""
    import torch

    from deal.modeling.band_energy import finest_band_log_ratio

    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    lap = np.abs(cv2.Laplacian(grey, cv2.CV_32F, ksize=1))
    noise = np.abs(grey - cv2.medianBlur(grey.astype(np.uint8), 3).astype(np.float32))
    h, w = grey.shape
    dx = np.abs(np.diff(grey, axis=1, append=grey[:, -1:]))
    dy = np.abs(np.diff(grey, axis=0, append=grey[-1:, :]))
    across_x = (np.arange(w) % 8 == 7)[None, :]
    across_y = (np.arange(h) % 8 == 7)[:, None]
    inside_x = cv2.blur(np.where(across_x, 0.0, dx).astype(np.float32), (16, 16)) * 8 / 7
    inside_y = cv2.blur(np.where(across_y, 0.0, dy).astype(np.float32), (16, 16)) * 8 / 7
    grid = (cv2.blur(np.where(across_x, dx, 0.0).astype(np.float32), (16, 16)) * 8 - inside_x) + (
        cv2.blur(np.where(across_y, dy, 0.0).astype(np.float32), (16, 16)) * 8 - inside_y
    )
    sat = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[..., 1].astype(np.float32)
    return {
        "smooth": -cv2.blur(lap, (9, 9)),
        "quiet": -cv2.blur(noise, (9, 9)),
        "gridless": -grid,
        "saturation": cv2.blur(sat, (9, 9)),
        "finest_deficit": -finest_band_log_ratio(torch.from_numpy(rgb).permute(2, 0, 1)[None].float())[0, 0].numpy(),
    }


def pixel_auc(score: np.ndarray, mask: np.ndarray) -> float | None:
    """ROC AUC of ``score`` for the pixels of ``mask`` (ties count half); None without both classes."""
    step = max(1, int(np.ceil(np.sqrt(score.size / _MAX_PIXELS))))
    s, m = score[::step, ::step].ravel(), mask[::step, ::step].ravel().astype(bool)
    pos, neg = int(m.sum()), int((~m).sum())
    if pos == 0 or neg == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(s.size, np.float64)
    sorted_s = s[order]
    # average ranks over ties
    _, start, counts = np.unique(sorted_s, return_index=True, return_counts=True)
    avg = start + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[m].sum() - pos * (pos + 1) / 2.0) / (pos * neg))


def operation_of(edit: str) -> str:
    """The edit operation of a synth history (``...|shape:x|resample:lanczos>area+hard|jpeg:83`` -> ``resample``)."""
    parts = edit.split("|")
    for i, part in enumerate(parts):
        if part.startswith("shape:") and i + 1 < len(parts):
            return re.split(r"[:+]", parts[i + 1])[0]
    return "authentic"


def _pairs(path: Path) -> dict[str, list[tuple[str, str]]]:
    """``{group: [(image, mask), ...]}`` of the edited images of a dataset folder."""
    manifest = path / "manifest.csv" if path.is_dir() else path
    if manifest.suffix == ".csv" and manifest.is_file():
        with open(manifest, newline="") as f:
            rows = list(csv.DictReader(f))
        if rows and "edit" in rows[0]:
            groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
            for r in rows:
                if r["label"] == "1":
                    groups[operation_of(r["edit"])].append(
                        (str(manifest.parent / r["image"]), str(manifest.parent / r["mask"]))
                    )
            return dict(sorted(groups.items()))
    from deal.data.discover import discover_records

    return {"all": [(r.image, r.mask) for r in discover_records(path) if r.label == 1 and r.mask]}


def measure(image_masks: list[tuple[str, str]]) -> dict[str, float | int | None]:
    """Mean per-image pixel AUC of each statistic over ``(image, mask)`` pairs."""
    from deal.data.io import read_image, read_mask

    aucs: dict[str, list[float]] = {k: [] for k in STATISTICS}
    for image, mask_path in image_masks:
        rgb = read_image(image)
        mask = read_mask(mask_path)
        if mask.shape != rgb.shape[:2]:
            mask = cv2.resize(mask.astype(np.uint8), rgb.shape[1::-1], interpolation=cv2.INTER_NEAREST)
        for name, score in statistic_maps(rgb).items():
            auc = pixel_auc(score, mask > 0)
            if auc is not None:
                aucs[name].append(auc)
    out: dict[str, float | int | None] = {"images": len(image_masks)}
    out.update({k: (float(np.mean(v)) if v else None) for k, v in aucs.items()})
    return out


def _markdown(rows: list[dict]) -> str:
    lines = [
        "| dataset | operation | edited images | " + " | ".join(STATISTICS) + " |",
        "|---|---|---|" + "---|" * len(STATISTICS),
    ]
    for r in rows:
        cells = ["-" if r[k] is None else f"{r[k]:.2f}" for k in STATISTICS]
        lines.append(f"| {r['dataset']} | {r['operation']} | {r['images']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deal_data_tools.shortcut_stats", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--dataset", action="append", required=True, help="NAME=PATH (repeatable)")
    parser.add_argument("--out", required=True, type=Path, help="folder for shortcuts.json and shortcuts.md")
    parser.add_argument("--max-per-group", type=int, default=60, help="edited images per group (default 60)")
    args = parser.parse_args(argv)
    from deal.evaluation.datasets import parse_dataset_specs
    from deal.fileio import atomic_write_text

    rows = []
    try:
        datasets = parse_dataset_specs(args.dataset)
        for name, path in datasets.items():
            if not path.exists():
                raise ValueError(f"{path}: dataset not found")
            for op, pairs in _pairs(path).items():
                rows.append({"dataset": name, "operation": op, **measure(pairs[: args.max_per_group])})
                print(_markdown(rows[-1:]).splitlines()[-1], flush=True)
    except (ValueError, FileNotFoundError) as err:
        print(f"shortcut_stats: {err}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "shortcuts.json", json.dumps(rows, indent=1) + "\n")
    atomic_write_text(args.out / "shortcuts.md", _markdown(rows))
    print(f"wrote {args.out / 'shortcuts.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
