"""Tiny synthetic localization data made inside the tests: camera-noisy textures whose edited region
is re-rendered smooth (its noise removed), the trace generated pixels leave. Generic layout."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np


def make_image(rng: np.random.Generator, size: int, edited: bool) -> tuple[np.ndarray, np.ndarray]:
    base = rng.normal(0, 1, (size // 8, size // 8, 3)).astype(np.float32)
    base = cv2.resize(base, (size, size), interpolation=cv2.INTER_CUBIC)
    base = 128 + 40 * base + rng.normal(0, 1, 3) * 20
    noisy = base + rng.normal(0, 9, (size, size, 3))
    mask = np.zeros((size, size), np.uint8)
    if edited:
        h, w = rng.integers(size // 4, size // 2, 2)
        y, x = rng.integers(0, size - h), rng.integers(0, size - w)
        mask[y : y + h, x : x + w] = 1
        smooth = cv2.GaussianBlur(base, (0, 0), 1.5)
        noisy = np.where(mask[..., None] == 1, smooth, noisy)
    return np.clip(noisy, 0, 255).astype(np.uint8), mask


def write_dataset(root: Path, n_train: int, n_val: int, size: int = 96, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(exist_ok=True)
    rows = []
    for i in range(n_train + n_val):
        split = "train" if i < n_train else "val"
        edited = i % 5 != 0  # one in five authentic
        image, mask = make_image(rng, size, edited)
        name = f"{split}_{i:04d}"
        cv2.imwrite(str(root / "images" / f"{name}.png"), image[..., ::-1])
        cv2.imwrite(str(root / "masks" / f"{name}.png"), mask * 255)
        rows.append({"image": f"images/{name}.png", "mask": f"masks/{name}.png", "label": int(edited), "split": split})
    with open(root / "manifest.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["image", "mask", "label", "split"])
        writer.writeheader()
        writer.writerows(rows)
    return root / "manifest.csv"
