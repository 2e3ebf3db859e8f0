"""Shortcut statistics (deal_data_tools.shortcut_stats): AUC, per-operation grouping, the statistics' directions."""

from __future__ import annotations

import cv2
import numpy as np
from deal_data_tools.shortcut_stats import operation_of, pixel_auc, statistic_maps


def test_pixel_auc_counts_ranks_and_ties() -> None:
    mask = np.array([[1, 1, 0, 0]], bool)
    assert pixel_auc(np.array([[4.0, 3.0, 2.0, 1.0]]), mask) == 1.0
    assert pixel_auc(np.array([[1.0, 2.0, 3.0, 4.0]]), mask) == 0.0
    assert pixel_auc(np.array([[1.0, 3.0, 2.0, 4.0]]), mask) == 0.25
    assert pixel_auc(np.ones((1, 4)), mask) == 0.5
    assert pixel_auc(np.ones((1, 4)), np.zeros((1, 4), bool)) is None


def test_operation_of_reads_the_synth_history() -> None:
    assert (
        operation_of("scale:cubic@0.8|crop:256|shape:fourier|resample:lanczos>area+hard|jpeg:83")
        == "resample"
    )
    assert operation_of("scale:area@1.1|crop:256|shape:union|full_regen:splice+donor=a.png") == "full_regen"
    assert operation_of("scale:area@1.1|crop:256|jpeg:90") == "authentic"


def test_statistics_find_a_blurred_region_and_a_missing_jpeg_grid() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    mask = np.zeros((64, 64), bool)
    mask[16:48, 16:48] = True
    blurred = image.copy()
    blurred[mask] = cv2.GaussianBlur(image, (0, 0), 2.0)[mask]
    maps = statistic_maps(blurred)
    assert pixel_auc(maps["smooth"], mask) > 0.9
    assert pixel_auc(maps["quiet"], mask) > 0.9
    # JPEG grid: 8x8 block offsets outside the region, none inside
    grid = np.zeros((64, 64), np.float32)
    grid[:, ::8] = 30.0
    flat = np.full((64, 64, 3), 128, np.uint8)
    flat[~mask] = np.clip(128 + grid[~mask, None], 0, 255).astype(np.uint8)
    assert pixel_auc(statistic_maps(flat)["gridless"], mask) > 0.7
