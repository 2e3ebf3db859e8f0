"""deal demo end to end: synthetic edits of scikit-image photos, detect, report, F1 against true masks."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from deal.cli.main import main
from deal.hub import bundled_detector_path
from deal.modeling.config import ModelConfig
from deal.modeling.detector_file import save_detector
from deal.modeling.mfpt import MFPT


@pytest.fixture(scope="module")
def tiny_detector(tmp_path_factory):
    torch.manual_seed(0)
    model = MFPT(ModelConfig(encoder="tiny", image_size=128, input_policy="native", train_encoder=True))
    with torch.no_grad():  # a detector that flags something: bias the mask logits upwards
        model.prompt_generator.up.weight.normal_(0, 0.05)
    return save_detector(tmp_path_factory.mktemp("det") / "tiny.safetensors", model, name="tiny-test", threshold=0.5)


def test_demo_writes_outputs_and_scores_them(tiny_detector, tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--detector", str(tiny_detector), "--n", "3", "--size", "128"]) == 0
    printed = capsys.readouterr().out
    assert (out / "results" / "report.html").is_file()
    records = [json.loads(line) for line in (out / "results" / "results.jsonl").read_text().splitlines()]
    assert len(records) == 3 and all(r["error"] is None for r in records)
    # Recompute each F1 from the files and check the printed table.
    f1s = []
    for record in records:
        stem = record["path"].rsplit("/", 1)[-1][: -len(".png")]
        true = cv2.imread(str(out / "truth" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE) > 127
        pred = cv2.imread(str(out / "results" / f"{stem}.png.mask.png"), cv2.IMREAD_GRAYSCALE) > 127
        assert 0.01 <= true.mean() <= 0.6  # a real local edit
        tp = (true & pred).sum()
        f1 = 2 * tp / (true.sum() + pred.sum()) if (true.sum() + pred.sum()) else 0.0
        f1s.append(f1)
        assert f"{stem:<22} {f1:6.3f}" in printed
    assert f"{'mean':<22} {np.mean(f1s):6.3f}" in printed
    assert "report:" in printed


@pytest.mark.skipif(bundled_detector_path() is None, reason="the bundled detector is not installed")
def test_bundled_detector_loads_and_is_small(capsys, monkeypatch):
    import deal.inference.detector as detector_module
    from deal import Detector

    monkeypatch.setattr(detector_module, "_bundled_notice_shown", False)  # said once per process

    path = bundled_detector_path()
    assert path.stat().st_size < 20 * 1024 * 1024
    det = Detector.load(device="cpu")
    assert "bundled demonstration detector" in capsys.readouterr().err
    assert 0.0 < det.threshold < 1.0 and det.config.encoder == "tiny"
    d = det.predict(np.full((64, 64, 3), 128, np.uint8))
    assert d.heatmap.shape == (64, 64) and 0.0 <= d.heatmap.min() <= d.heatmap.max() <= 1.0
