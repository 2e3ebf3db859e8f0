"""Fixtures of the evaluation tests: the CoCoGlide fixture (16 edited + 16 authentic, 256x256)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import require_shared, single_torch_thread

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
COCOGLIDE = SHARED_DATA / "fixtures" / "CocoGlide"


@pytest.fixture(scope="session")
def cocoglide() -> Path:
    return require_shared("fixtures", "CocoGlide", "fake").parent


@pytest.fixture(scope="session")
def cocoglide_records(cocoglide):
    from deal.data.discover import discover_records

    return discover_records(cocoglide)


_one_torch_thread = pytest.fixture(autouse=True)(single_torch_thread)
