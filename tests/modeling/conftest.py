from __future__ import annotations

import pytest

from tests.modeling.tiny_sam import build_official_sam, save_official_checkpoint


@pytest.fixture(scope="session")
def tiny_sam():
    return build_official_sam("tiny")


@pytest.fixture(scope="session")
def tiny_sam_checkpoint(tiny_sam, tmp_path_factory):
    return save_official_checkpoint(tiny_sam, tmp_path_factory.mktemp("sam") / "sam_tiny_test.pth")
