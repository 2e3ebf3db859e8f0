"""`deal benchmark-speed --pipeline`: detect vs the bare model forward on the same images (never times)."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
from PIL import Image

from deal.cli.main import main


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, str]:
    rng = np.random.default_rng(0)
    small, large = tmp_path_factory.mktemp("small"), tmp_path_factory.mktemp("large")
    dataset = tmp_path_factory.mktemp("dataset")
    (dataset / "images").mkdir()
    (dataset / "masks").mkdir()
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)).save(small / f"{i}.png")
        Image.fromarray(rng.integers(0, 256, (150, 200, 3), dtype=np.uint8)).save(large / f"{i}.jpg", quality=90)
        Image.fromarray(rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)).save(dataset / "images" / f"{i}.png")
        mask = np.zeros((64, 80), np.uint8)
        mask[10:30, 20:50] = 255
        Image.fromarray(mask).save(dataset / "masks" / f"{i}.png")
    return {"small": str(small), "large": str(large), "dataset": f"toy={dataset}"}


@pytest.fixture(scope="module")
def detector_file(tmp_path_factory):
    """A tiny native-policy detector with 128 px tiles (encoder trained: no SAM file needed)."""
    import torch

    from deal.modeling.config import ModelConfig
    from deal.modeling.detector_file import save_detector
    from deal.modeling.mfpt import MFPT

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("detector") / "tiny.safetensors"
    save_detector(path, MFPT(ModelConfig(encoder="tiny", image_size=128, input_policy="native", train_encoder=True)),
                  name="tiny")
    return path


def test_pipeline_rows_count_the_tiles_detect_runs(folders, detector_file, tmp_path):
    out = tmp_path / "pipeline.json"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main([
            "benchmark-speed", "--pipeline", folders["small"], "--pipeline", folders["large"],
            "--benchmark-dataset", folders["dataset"],
            "--detector", str(detector_file), "--batch-size", "4", "--workers", "1", "--threads", "1",
            "--out", str(out),
        ])  # fmt: skip
    assert rc == 0
    result = json.loads(out.read_text())
    small, large, bench = result["rows"]
    # 96x96 under the 128 px tile: one model input per image; 150x200: 2 x 2 tiles per image, 12 in all,
    # in batches of 4 shared across images.
    assert (small["images"], small["model_inputs"], small["batches"]) == (3, 3, 1)
    assert (large["images"], large["model_inputs"], large["batches"]) == (3, 12, 3)
    for row in (small, large):
        assert row["failed"] == 0
        assert row["ratio"] == pytest.approx(row["detect_images_per_s"] / row["forward_images_per_s"])
    assert (bench["row"], bench["images"], bench["failed"]) == ("benchmark-vs-detect", 3, 0)
    assert bench["ratio"] == pytest.approx(bench["benchmark_images_per_s"] / bench["detect_images_per_s"])
    assert "ratio" in buf.getvalue() and result["threads"] == 1
    assert "--benchmark-dataset" in result["command"]
