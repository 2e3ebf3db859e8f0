"""Fixtures of the evaluation tests: the CoCoGlide fixture (16 edited + 16 authentic, 256x256)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
COCOGLIDE = SHARED_DATA / "fixtures" / "CocoGlide"


@pytest.fixture(scope="session")
def cocoglide() -> Path:
    if not (COCOGLIDE / "fake").is_dir():
        pytest.skip(f"CoCoGlide fixture not found at {COCOGLIDE}")
    return COCOGLIDE


@pytest.fixture(scope="session")
def cocoglide_records(cocoglide):
    from deal.data.discover import discover_records

    return discover_records(cocoglide)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Per-image metrics are many tiny tensor ops: on the shared 2-core test machine intra-op threads only
    add barrier waits (10 ms per op under load instead of 0.05 ms), so these tests run single-threaded."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
