"""Fixtures for the deal.data tests: the shared real-data fixtures and tiny image writers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import require_shared

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
DEAL_FIXTURE = SHARED_DATA / "fixtures" / "DEAL-300K"
COCOGLIDE_FIXTURE = SHARED_DATA / "fixtures" / "CocoGlide"


@pytest.fixture
def deal_fixture() -> Path:
    require_shared("fixtures", "DEAL-300K", "train")
    return DEAL_FIXTURE


@pytest.fixture
def cocoglide_fixture() -> Path:
    require_shared("fixtures", "CocoGlide", "fake")
    return COCOGLIDE_FIXTURE


def _write_rgb(path: Path, h: int = 16, w: int = 20, seed: int = 0) -> np.ndarray:
    """A random RGB image saved losslessly (PNG) or as JPEG by suffix; returns the pixels written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    Image.fromarray(arr).save(path)
    return arr


def _write_mask(
    path: Path, h: int = 16, w: int = 20, box: tuple[int, int, int, int] | None = (2, 2, 6, 8)
) -> np.ndarray:
    """An L-mode 0/255 PNG mask with ``box`` = (top, left, bottom, right) marked; returns {0,1}."""
    path.parent.mkdir(parents=True, exist_ok=True)
    m = np.zeros((h, w), np.uint8)
    if box is not None:
        t, left, b, r = box
        m[t:b, left:r] = 1
    Image.fromarray(m * 255).save(path)
    return m


@pytest.fixture
def write_rgb():
    """The :func:`_write_rgb` helper: ``write_rgb(path, h=16, w=20, seed=0) -> HxWx3 uint8``."""
    return _write_rgb


@pytest.fixture
def write_mask():
    """The :func:`_write_mask` helper: ``write_mask(path, h=16, w=20, box=(t, l, b, r)) -> HxW {0,1}``."""
    return _write_mask
