"""deal export on a detector file: the same tensors, thresholds calibrated anew on the given validation data."""

from __future__ import annotations

import torch

from deal.cli.main import main
from deal.modeling.config import ModelConfig
from deal.modeling.detector_file import load_detector, save_detector
from deal.modeling.mfpt import MFPT
from tests.training.synthetic import write_dataset


def test_a_detector_file_is_recalibrated(tmp_path):
    torch.manual_seed(0)
    model = MFPT(ModelConfig(encoder="tiny", image_size=96, input_policy="native", train_encoder=True))
    old = save_detector(tmp_path / "old.safetensors", model, name="old", threshold=0.5, extra={"image_threshold": 0.9})
    manifest = write_dataset(tmp_path / "data", n_train=0, n_val=10)
    new = tmp_path / "new.safetensors"
    assert main(["export", str(old), "--out", str(new), "--val", str(manifest), "--name", "old"]) == 0
    recalibrated, info = load_detector(new)
    assert all(torch.equal(v, recalibrated.state_dict()[k]) for k, v in model.state_dict().items())
    calib = info.calibration
    assert (calib["n_edited"], calib["n_authentic"]) == (8, 2)
    assert info.threshold == calib["threshold"] and list(info.image_thresholds) == calib["image_thresholds"]
    low, high = info.image_thresholds
    assert 0.0 <= low <= high <= 1.0 and info.verdict_precision == 0.9 and info.precision_reached == calib["precision_reached"]
