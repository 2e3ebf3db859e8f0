"""Fixtures of the inference tests: a tiny detector file made here, small synthetic images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
TILE = 128  # the test detector's image_size: the native tile


def smooth_image(h: int, w: int, seed: int) -> np.ndarray:
    """An HxWx3 uint8 image with structure at several scales (compresses like a photo, not like noise)."""
    import cv2

    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (max(2, h // 16), max(2, w // 16), 3), dtype=np.uint8)
    img = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC).astype(np.int16)
    img += rng.integers(-12, 13, (h, w, 3), dtype=np.int16)
    return np.clip(img, 0, 255).astype(np.uint8)


def save_image(path: Path, h: int, w: int, seed: int, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(smooth_image(h, w, seed)).save(path, **kwargs)
    return path


@pytest.fixture(scope="session")
def detector_file(tmp_path_factory) -> Path:
    """A tiny native-policy detector (encoder trained: no SAM file needed), image_size 128, threshold 0.5."""
    from deal.modeling.config import ModelConfig
    from deal.modeling.detector_file import save_detector
    from deal.modeling.mfpt import MFPT

    torch.manual_seed(0)
    model = MFPT(ModelConfig(encoder="tiny", image_size=TILE, input_policy="native", train_encoder=True))
    path = tmp_path_factory.mktemp("detector") / "tiny.safetensors"
    save_detector(path, model, name="test-tiny", threshold=0.5)
    return path


@pytest.fixture(scope="session")
def detector(detector_file):
    from deal.inference.detector import Detector

    return Detector.load(detector_file, "cpu")
