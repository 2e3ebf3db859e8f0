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


def test_export_says_what_the_verdict_cannot_say(tmp_path, monkeypatch, capsys):
    """deal export prints the verdict-limitation sentence (the one detect and the report print) on stderr,
    from the written file's named fields (a calibration that missed its precision for edited)."""
    import deal.training.export as export_module
    from deal.metrics.image_score import verdict_limitation

    model = MFPT(ModelConfig(encoder="tiny", image_size=96, input_policy="native", train_encoder=True))
    written = save_detector(
        tmp_path / "d.safetensors", model, name="d", image_thresholds=(0.2, 1.0), verdict_precision=0.9,
        precision_reached=False,
    )
    monkeypatch.setattr(export_module, "export_checkpoint", lambda *a, **k: (written, {}))
    checkpoint = tmp_path / "x.ckpt"  # deal export checks that the checkpoint exists before exporting it
    checkpoint.write_bytes(b"")
    assert main(["export", str(checkpoint), "--out", str(written)]) == 0
    err = capsys.readouterr().err
    sentence = verdict_limitation(0.2, 1.0, 0.9, False)
    assert "missed the stated precision of 0.9 for edited" in sentence
    assert f"deal export: note: {sentence}\n" in err
    # reached: no sentence (high = 1 given by a calibration that met its precision says what it says)
    save_detector(written, model, name="d", image_thresholds=(0.2, 1.0), verdict_precision=0.9, precision_reached=True)
    assert main(["export", str(checkpoint), "--out", str(written)]) == 0
    assert "note:" not in capsys.readouterr().err


def test_export_on_validation_data_without_edits_is_one_sentence_and_exit_2(tmp_path, capsys):
    """No edited image: the pixel threshold has nothing to be calibrated on. One sentence naming the data,
    exit 2, nothing written (it was a KeyError traceback); with --threshold the same data serves."""
    import csv

    model = MFPT(ModelConfig(encoder="tiny", image_size=96, input_policy="native", train_encoder=True))
    old = save_detector(tmp_path / "old.safetensors", model, name="old", threshold=0.5)
    manifest = write_dataset(tmp_path / "data", n_train=0, n_val=10)
    with open(manifest, newline="") as f:
        authentic = [row for row in csv.DictReader(f) if row["label"] == "0"]
    with open(manifest, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(authentic[0]))
        writer.writeheader()
        writer.writerows(authentic)
    new = tmp_path / "new.safetensors"
    capsys.readouterr()
    assert main(["export", str(old), "--out", str(new), "--val", str(manifest)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"deal export: error: {manifest} (split 'val'): the 2 validation images hold no edited image, so the pixel "
        "threshold cannot be calibrated; pass validation data with edits, or --threshold"
    )
    assert not new.exists()
    assert main(["export", str(old), "--out", str(new), "--val", str(manifest), "--threshold", "0.4"]) == 0
    assert load_detector(new)[1].threshold == 0.4
