"""Fixtures of the metric tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Per-image metrics are many tiny tensor ops: on the shared 2-core test machine intra-op threads only
    add barrier waits (10 ms per op under load instead of 0.05 ms), so these tests run single-threaded."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
