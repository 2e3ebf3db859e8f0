"""Shared test fixtures: tiny SAM models, and where ../shared/data lives."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

torch.set_num_threads(min(2, torch.get_num_threads()))


SHARED_DATA_MISSING = (
    f"needs the project's real data at {SHARED_DATA} (CoCoGlide and DEAL-300K fixtures, BSDS500 and Kodak "
    "photos, the TAEF2 generator): check out the project's shared/ folder beside this repository"
)


def require_shared(*parts: str) -> Path:
    """SHARED_DATA/parts, or a skip with one reason for every test that needs the real data (so the summary
    says it once)."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(SHARED_DATA_MISSING)
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return require_shared()


def single_torch_thread():
    """Per-image metrics are many tiny tensor ops: on a shared 2-core machine intra-op threads only add
    barrier waits (10 ms per op under load instead of 0.05 ms). Test folders full of such ops register this
    as an autouse fixture in their conftest: `_one = pytest.fixture(autouse=True)(single_torch_thread)`."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
