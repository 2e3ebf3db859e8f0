"""Uniform region placement: position carries no label (the mean mask is flat, borders included)."""

from __future__ import annotations

import math

import numpy as np
from deal_data_tools.synthesis.shapes import random_region, uniform_shift

SIZE = 64


def _mean_mask(placement: str, n: int = 2000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    total = np.zeros((SIZE, SIZE))
    for _ in range(n):
        fraction = math.exp(rng.uniform(math.log(0.03), math.log(0.75)))  # CoCoGlide: 5th-95th pct 3-75%
        region, _ = random_region(rng, SIZE, SIZE, fraction)
        if placement == "uniform":
            region = uniform_shift(region, rng)
        total += region
    return total / n


def _cells(mean: np.ndarray, cell: int = 8) -> np.ndarray:
    """Mean per 8x8 cell, relative to the overall mean."""
    blocks = mean.reshape(SIZE // cell, cell, SIZE // cell, cell).mean(axis=(1, 3))
    return blocks / mean.mean()


def test_the_mean_mask_of_2000_uniformly_placed_regions_is_flat_within_10_percent():
    cells = _cells(_mean_mask("uniform"))
    # 2,000 regions of mean area ~0.2: the binomial noise of one 8x8 cell's mean is ~2-3% relative
    assert np.abs(cells - 1).max() < 0.10


def test_object_placement_is_not_flat_so_the_bound_discriminates():
    cells = _cells(_mean_mask("object"))
    corners = cells[[0, 0, -1, -1], [0, -1, 0, -1]]
    centre = cells[3:5, 3:5]
    assert np.abs(cells - 1).max() > 0.3 and centre.mean() > 1.5 * corners.mean()


def test_uniform_shift_keeps_the_area_exactly():
    rng = np.random.default_rng(1)
    region, _ = random_region(rng, SIZE, SIZE, 0.2)
    assert int(uniform_shift(region, rng).sum()) == int(region.sum())
