"""A trained detector saves as one safetensors file and loads back: the same weights bit for bit, the same
outputs within float32 noise (tests.conftest.OUTPUT_ATOL)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from deal.modeling.config import ModelConfig
from deal.modeling.detector_file import (
    FORMAT,
    DetectorInfo,
    load_detector,
    read_detector_info,
    save_detector,
    upgrade_metadata,
)
from deal.modeling.mfpt import MFPT
from deal.modeling.sam_checkpoint import CheckpointError, load_sam_checkpoint
from tests.conftest import OUTPUT_ATOL, REPO_ROOT, SCORE_RTOL, SHARED_DATA, assert_outputs_close
from tests.modeling.tiny_sam import build_official_sam, save_official_checkpoint


def _trained(tiny_sam_checkpoint) -> MFPT:
    torch.manual_seed(5)
    model = MFPT(ModelConfig(encoder="tiny", image_size=256, input_policy="native"))
    report = load_sam_checkpoint(model, tiny_sam_checkpoint)
    with torch.no_grad():
        for p in model.trainable_parameters():
            p.add_(torch.randn_like(p) * 0.01)
    return model, report.sha256


def test_round_trip_is_bit_exact(tiny_sam_checkpoint, tmp_path):
    model, sha = _trained(tiny_sam_checkpoint)
    path = save_detector(
        tmp_path / "det.safetensors", model, name="t", threshold=0.37, base_checkpoint=tiny_sam_checkpoint.name,
        base_sha256=sha, extra={"note": "x"},
    )
    loaded, info = load_detector(path, sam_checkpoint=tiny_sam_checkpoint)
    assert info.threshold == 0.37 and info.name == "t" and info.extra == {"note": "x"}
    assert info.config == model.config and info.base_sha256 == sha
    a, b = model.state_dict(), loaded.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    x = torch.randn(1, 3, 64, 96)
    model.eval()
    with torch.no_grad():
        assert_outputs_close(loaded(x), model(x))
    # Only the trained parts are stored: the file is far smaller than the model.
    n_stored = sum(1 for k in a if not k.startswith("image_encoder."))
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        assert len(list(f.keys())) == n_stored


def test_attention_backend_is_not_stored(tmp_path):
    """How attention is computed is a runtime choice: a detector file never forces FlexAttention."""
    model = MFPT(ModelConfig(encoder="tiny", image_size=256, train_encoder=True, attention="flex"))
    path = save_detector(tmp_path / "d.safetensors", model, name="flex-trained")
    info = read_detector_info(path)
    assert info.config.attention == "auto"
    assert info.config == ModelConfig(encoder="tiny", image_size=256, train_encoder=True)


def test_other_base_checkpoint_is_refused_unless_forced(tiny_sam_checkpoint, tmp_path):
    model, sha = _trained(tiny_sam_checkpoint)
    path = save_detector(tmp_path / "det.safetensors", model, name="t", base_checkpoint="x.pth", base_sha256=sha)
    other = save_official_checkpoint(build_official_sam("tiny", seed=9), tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="sha256"):
        load_detector(path, sam_checkpoint=other)
    loaded, _ = load_detector(path, sam_checkpoint=other, force=True)
    assert not torch.equal(loaded.image_encoder.pos_embed, model.image_encoder.pos_embed)


def test_missing_base_checkpoint_names_fetch(tiny_sam_checkpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("DEAL_WEIGHTS_DIR", str(tmp_path / "empty"))
    monkeypatch.chdir(tmp_path)
    model, sha = _trained(tiny_sam_checkpoint)
    path = save_detector(tmp_path / "d.safetensors", model, name="t", base_checkpoint="sam_vit_b_01ec64.pth", base_sha256=sha)
    with pytest.raises(FileNotFoundError, match="it was trained on"):
        load_detector(path)  # modeling never looks for weight files: that is Detector.load's job
    from deal.inference.detector import Detector

    with pytest.raises(FileNotFoundError, match="deal weights fetch vit_b"):
        Detector.load(path, "cpu")
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "sam_vit_b_01ec64.pth").write_bytes(Path(tiny_sam_checkpoint).read_bytes())
    assert Detector.load(path, "cpu").info.base_sha256 == sha  # found in ./weights


def test_trained_encoder_detector_is_self_contained(tmp_path):
    model = MFPT(ModelConfig(encoder="tiny", image_size=256, train_encoder=True))
    path = save_detector(tmp_path / "d.safetensors", model, name="scratch")
    loaded, info = load_detector(path)
    assert info.base_sha256 is None
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in model.state_dict().items())


def test_not_a_detector_file(tmp_path):
    bad = tmp_path / "x.safetensors"
    bad.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="x.safetensors"):
        read_detector_info(bad)


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda meta: meta.pop("name"), "lacks the 'name' entry"),
        (lambda meta: meta.update(config=meta["config"].replace('"bands"', '"bandz"')), "metadata is invalid"),
        (lambda meta: meta.update(threshold="high"), "metadata is invalid"),
    ],
)
def test_broken_metadata_is_one_sentence(tmp_path, damage, message):
    from safetensors.torch import load_file, save_file

    model = MFPT(ModelConfig(encoder="tiny", image_size=256, train_encoder=True))
    path = save_detector(tmp_path / "d.safetensors", model, name="scratch")
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata())
    damage(meta)
    save_file(load_file(str(path)), str(path), metadata=meta)
    with pytest.raises(CheckpointError, match=message):
        load_detector(path)


BUNDLED = REPO_ROOT / "weights" / "deal-demo-tiny-synth.safetensors"


# The bundled detector's heatmap of BUNDLED_FIXTURE: its mean over each of 4x4 blocks of 64x64 pixels (row by
# row), and its image score, as recorded when the file was exported.
BUNDLED_FIXTURE = ("fixtures", "CocoGlide", "fake", "glide_inpainting_val2017_133778_up.png")
BUNDLED_BLOCK_MEANS = [
    [0.118058582, 0.133720894, 0.153383405, 0.159504768],
    [0.145229161, 0.366328866, 0.457280723, 0.507452305],
    [0.110997122, 0.266148588, 0.170463759, 0.169577522],
    [0.038271141, 0.034180405, 0.023794867, 0.025271811],
]
BUNDLED_SCORE = 0.70983555


def _as_format_1(src, dst) -> None:  # noqa: ANN001
    """``src``'s tensors with its metadata written the way format 1 kept it (the verdict inside ``extra``)."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(src), framework="pt") as f:
        meta = dict(f.metadata())
    info = read_detector_info(src, with_sha256=False)
    extra = {**info.extra, "image_thresholds": list(info.image_thresholds), "verdict_precision": info.verdict_precision,
             "global_step": info.global_step, "calibration": {**info.calibration, "precision_reached": info.precision_reached}}  # fmt: skip
    old = {k: v for k, v in meta.items() if k in ("name", "threshold", "config", "base_checkpoint", "base_sha256",
                                                   "deal_version")}
    save_file(load_file(str(src)), str(dst), metadata={**old, "format": "deal-detector/1", "extra": json.dumps(extra)})


def test_the_bundled_file_gives_its_recorded_outputs_and_reads_the_same_as_a_format_1_file(tmp_path):
    """The bundled file's metadata and outputs (score and heatmap on a CoCoGlide fixture) within float32 noise:
    the score to SCORE_RTOL, each block mean of the heatmap to OUTPUT_ATOL; the same file with its metadata in
    format 1 reads through upgrade_metadata into the same fields and the same outputs."""
    import numpy as np

    from deal.inference.detector import Detector

    info = read_detector_info(BUNDLED)
    assert info.threshold == 0.1 and info.image_thresholds == pytest.approx((0.19173961, 0.84378792), rel=1e-6)
    assert info.verdict_precision == 0.9 and info.precision_reached is True and info.global_step == 600
    assert info.calibration["n_edited"] == 128 and info.config.cue_residual and not info.config.high_res_path
    assert info.config.cue_smoothing == (16.0,) and info.config.cue_init == (0.5, 2.0)
    assert info.input_policy == {"name": "native", "image_size": 256, "patch_size": 16}
    fixture = SHARED_DATA.joinpath(*BUNDLED_FIXTURE)
    if not fixture.is_file():
        pytest.skip(f"{fixture} is missing")
    old = tmp_path / "format1.safetensors"
    _as_format_1(BUNDLED, old)
    upgraded = read_detector_info(old, with_sha256=False)
    assert (upgraded.threshold, upgraded.image_thresholds, upgraded.global_step) == (
        info.threshold, info.image_thresholds, info.global_step
    )
    for path in (BUNDLED, old):
        d = Detector.load(path, "cpu").predict(fixture)
        assert d.verdict == "inconclusive" and d.score == pytest.approx(BUNDLED_SCORE, rel=SCORE_RTOL)
        assert d.heatmap.shape == (256, 256)
        blocks = d.heatmap.astype(np.float64).reshape(4, 64, 4, 64).mean(axis=(1, 3))
        np.testing.assert_allclose(blocks, BUNDLED_BLOCK_MEANS, rtol=0, atol=OUTPUT_ATOL)


def test_upgrade_of_format_1_metadata():
    old = {"format": "deal-detector/1", "name": "n", "threshold": "0.2", "config": "{}", "extra": json.dumps(
        {"image_threshold": 0.7, "global_step": 5, "calibration": {"precision_reached": False}, "note": "x"})}
    new = upgrade_metadata(old)
    assert new["format"] == FORMAT and json.loads(new["extra"]) == {"note": "x"}
    assert (new["image_threshold_low"], new["image_threshold_high"], new["global_step"]) == ("0.7", "0.7", "5")
    assert new["precision_reached"] == "false" and upgrade_metadata(new) is new
    with pytest.raises(CheckpointError, match="format 'other'"):
        upgrade_metadata({"format": "other"})


@pytest.mark.parametrize(
    "values, message",
    [
        ({"threshold": 1.5}, "threshold must be in"),
        ({"image_thresholds": (0.8, 0.2)}, "low <= high"),
        ({"image_thresholds": (0.2, 1.2)}, "low <= high"),
        ({"verdict_precision": 0.3}, "verdict_precision"),
        ({"global_step": -1}, "global_step"),
    ],
)
def test_one_validation_of_the_ranges(values, message, tmp_path):
    config = ModelConfig(encoder="tiny", image_size=64, train_encoder=True)
    with pytest.raises(ValueError, match=message):
        DetectorInfo(name="x", config=config, **values)
    with pytest.raises(ValueError, match=message):  # the file is never written
        save_detector(tmp_path / "d.safetensors", MFPT(config), name="x", **values)
    assert not (tmp_path / "d.safetensors").exists()


def test_every_field_round_trips(tmp_path):
    config = ModelConfig(encoder="tiny", image_size=64, train_encoder=True)
    path = save_detector(
        tmp_path / "d.safetensors", MFPT(config), name="x", threshold=0.3, image_thresholds=(0.2, 0.7),
        verdict_precision=0.9, precision_reached=False, global_step=12, calibration={"pixel_f1": float("nan")},
        extra={"k": 1},
    )
    info = read_detector_info(path)
    assert (info.threshold, info.image_thresholds, info.verdict_precision, info.precision_reached) == (
        0.3, (0.2, 0.7), 0.9, False
    )
    assert info.global_step == 12 and info.calibration == {"pixel_f1": None} and info.extra == {"k": 1}
