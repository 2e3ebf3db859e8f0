"""Fixtures of the metric tests."""

from __future__ import annotations

import pytest

from tests.conftest import single_torch_thread

_one_torch_thread = pytest.fixture(autouse=True)(single_torch_thread)
