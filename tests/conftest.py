"""Shared test fixtures: tiny SAM models, and where ../shared/data lives."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

torch.set_num_threads(min(2, torch.get_num_threads()))

# Model outputs (logits, heatmap probabilities, image scores) are compared within these tolerances, never bit
# for bit: float32 sums depend on the CPU's SIMD path and on torch's thread count. Measured on one 2-core
# CPU (torch 2.14.1), the bundled detector's heatmap of a 256x256 CoCoGlide image differs by up to 4.5e-7
# per pixel between 1 and 2 threads, and its image score by 2e-9 (relative); the tolerances leave a 20x margin.
OUTPUT_ATOL = 1e-5  # absolute, per element of a heatmap or a logit map
OUTPUT_RTOL = 1e-5  # relative, per element (logits reach tens)
SCORE_RTOL = 1e-6  # relative, an image score (the mean of many pixels: less noise than one pixel)


def assert_outputs_close(actual, expected) -> None:
    """Two model outputs (tensors or arrays) are equal but for float32 noise (OUTPUT_ATOL, OUTPUT_RTOL)."""
    import numpy as np

    actual, expected = (x.detach().cpu().numpy() if torch.is_tensor(x) else np.asarray(x) for x in (actual, expected))
    np.testing.assert_allclose(actual, expected, rtol=OUTPUT_RTOL, atol=OUTPUT_ATOL)


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
