"""deal_benchmarks.train_bundled in its tiny CPU mode: data, two arms, exports calibrated, the GPU check."""

from __future__ import annotations

import json

import pytest
from deal_benchmarks.train_bundled import ARMS, arm_config, main

from tests.conftest import require_shared

pytestmark = pytest.mark.slow  # data, two tiny training runs, two exports and the GPU check's tiny mode


def test_every_arm_differs_from_the_recipe_in_its_named_switch_only(tmp_path):
    import yaml

    data = {"train": "t.csv", "val": "v.csv"}
    configs = {a: yaml.safe_load(arm_config(a, data, tmp_path, max_steps=10, max_time=None, tiny=False,
                                            batch_size=None, workers=1).read_text()) for a in ARMS}  # fmt: skip
    base = configs["trace_residual"]
    assert not base["model"]["config"]["high_res_path"] and base["model"]["config"]["cue_residual"]
    assert base["data"]["paired_originals"] and base["trainer"]["max_steps"] == 10
    assert configs["high_res"]["model"]["config"] == {**base["model"]["config"], "high_res_path": True}
    assert configs["no_smoothing"]["model"]["config"] == {**base["model"]["config"], "cue_smoothing": [], "cue_init": []}
    assert configs["no_pairs"]["data"] == {**base["data"], "paired_originals": False}
    paper = configs["paper"]["model"]["config"]
    assert not (paper["high_res_path"] or paper["cue_residual"] or paper["prompts"]["band_energy"])


def test_tiny_mode_trains_exports_calibrated_arms_and_runs_the_gpu_check(tmp_path, monkeypatch):
    """The whole call on the CPU; the GPU check's own tiny mode is tests/benchmarks/test_gpu_check.py, so here it
    is replaced by a recorder of where it was asked to write."""
    import deal_benchmarks.gpu_check as gpu_check

    photos = require_shared("natural", "Kodak", "all")
    calls = []

    def fake_gpu_check(out, tiny=False):  # noqa: ANN001, ANN202
        calls.append((out, tiny))
        return {"steps": [{"step": "train_smoke", "exit_code": 0}]}

    monkeypatch.setattr(gpu_check, "run_gpu_check", fake_gpu_check)
    out = tmp_path / "out"
    code = main(["--photos", str(photos), "--val-photos", str(photos), "--work", str(tmp_path / "work"),
                 "--export-to", str(out), "--arms", "trace_residual,paper", "--n-train", "8", "--n-val", "4",
                 "--size", "64", "--max-steps", "2", "--tiny", "--loader-workers", "0", "--synth-workers", "1",
                 "--gpu-check", "--calibration", str(tmp_path / "work" / "synth" / "trace_val" / "manifest.csv")])  # fmt: skip
    assert code == 0
    summary = json.loads((out / "train_bundled.json").read_text())
    assert {a: r["global_step"] for a, r in summary["train"].items()} == {"trace_residual": 2, "paper": 2}
    assert all(e["exit_code"] == 0 for e in summary["export"].values())
    assert (out / "trace_residual.safetensors").is_file() and (out / "paper.safetensors").is_file()
    assert calls == [(out / "gpu_check", True)]
    assert summary["gpu_check"] == [{"step": "train_smoke", "exit_code": 0}]
