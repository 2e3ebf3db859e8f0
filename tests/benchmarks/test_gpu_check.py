"""deal_benchmarks.gpu_check in its tiny CPU mode: every step runs and writes its JSON (no time asserted)."""

from __future__ import annotations

import json

import pytest
from deal_benchmarks.gpu_check import main

pytestmark = pytest.mark.slow  # every GPU-check step, tiny and on the CPU: ~40 s


def test_gpu_check_tiny_mode_writes_every_result(tmp_path, capsys):
    assert main(["--out", str(tmp_path), "--tiny"]) == 0
    summary = json.loads((tmp_path / "gpu_check.json").read_text())
    assert [s["step"] for s in summary["steps"]] == ["speed_compile_off", "train_smoke"]
    assert all(s["exit_code"] == 0 and s["command"].startswith("deal ") for s in summary["steps"])
    speed = json.loads((tmp_path / "speed_off.json").read_text())
    assert {r["row"] for r in speed["rows"]} == {1, 2, 3, 4, 5}
    train = json.loads((tmp_path / "train.json").read_text())
    assert train["global_step"] == 3 and train["steps_timed"] == 2 and train["images_per_s"] > 0
    assert 0.0 <= train["metrics"]["val/pixel_f1"] <= 1.0
    assert 0 < train["checkpoint_bytes"] < 30e6  # slim: the tiny frozen encoder is not in it
    assert summary["train"] == train and summary["hardware"]
