"""Regions: connected parts of the mask covering at least MIN_REGION_FRACTION of the image; specks are
counted as dropped, and the mask keeps them."""

from __future__ import annotations

import numpy as np
import pytest

from deal.inference.detection import Detection
from deal.inference.regions import MIN_REGION_FRACTION, find_regions, min_region_area


def _speckled(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """A heatmap of a 40x30 edited block and specks of 1, 2, 4 and 6 pixels (probability 0.9 and 0.7)."""
    heat = np.full((height, width), 0.1, np.float32)
    heat[100:130, 100:140] = 0.9
    for k, (y, x) in enumerate([(10, 10), (10, 50), (50, 10), (200, 200)]):
        n = (1, 2, 4, 6)[k]
        heat[y, x : x + n] = 0.7
    return heat, heat > 0.5


def test_the_default_minimum_area_in_pixels():
    assert MIN_REGION_FRACTION == 1e-4
    assert min_region_area(256, 256) == 7  # ceil(6.55)
    assert min_region_area(3000, 4000) == 1200
    assert min_region_area(10, 10) == 1 and min_region_area(256, 256, 0.0) == 1
    with pytest.raises(ValueError, match="min_fraction"):
        min_region_area(10, 10, 1.5)


def test_specks_are_dropped_and_counted():
    heat, mask = _speckled(256, 256)
    regions, count, dropped = find_regions(heat, mask)
    assert (count, dropped) == (1, 4)
    assert regions == [{"bbox": [100, 100, 40, 30], "area": 1200, "mean_prob": 0.9, "max_prob": 0.9}]
    # With no minimum, every component is a region, largest first.
    regions, count, dropped = find_regions(heat, mask, min_fraction=0.0)
    assert (count, dropped) == (5, 0) and [r["area"] for r in regions] == [1200, 6, 4, 2, 1]


def test_the_minimum_is_relative_to_the_image():
    """A 6-pixel speck is dropped from a 256x256 image (minimum 7 pixels), a region of a 200x256 one (6)."""
    for (height, width), expected in {(256, 256): (0, 1), (200, 256): (1, 0)}.items():
        heat = np.zeros((height, width), np.float32)
        heat[50, 60:66] = 0.8
        assert find_regions(heat, heat > 0.5)[1:] == expected, (height, width)


def test_a_detection_keeps_the_specks_in_its_mask():
    heat, _ = _speckled(256, 256)
    d = Detection.from_heatmap(heat, 0.5)
    assert (d.n_regions, d.n_regions_dropped, d.min_region_fraction) == (1, 4, MIN_REGION_FRACTION)
    assert d.edited_fraction == pytest.approx((1200 + 1 + 2 + 4 + 6) / 256**2)
