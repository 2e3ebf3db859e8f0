"""The docs' first training run (docs/training.md), command for command, shortened (fewer images, steps and pixels)."""

from __future__ import annotations

import json
import re
import shlex

import pytest
import torch
from deal_data_tools.sample_photos import main as sample_photos_main

from deal.cli.main import main
from deal.modeling.detector_file import load_detector
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow  # the newcomer recipe end to end: data, training, export, detect

SHORTEN = {"--n 160": "--n 16", "--n 24": "--n 6", "--size 128": "--size 64"}


def readme_recipe() -> list[str]:
    text = (REPO_ROOT / "docs" / "training.md").read_text(encoding="utf-8")
    block = text.split("<!-- newcomer-recipe -->", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def test_newcomer_recipe_runs_end_to_end(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").symlink_to(REPO_ROOT / "configs")  # the commands run from the repository root
    commands = readme_recipe()
    assert [c.split()[:3] for c in commands] == [
        ["python", "-m", "deal_data_tools.sample_photos"], ["deal", "data", "synth"], ["deal", "data", "synth"],
        ["deal", "train", "--config"], ["deal", "export", "runs/train_tiny_cpu/run/checkpoints/final.ckpt"],
        ["deal", "detect", "synth/val/images"],
    ]
    for command in commands:
        for long, short in SHORTEN.items():
            command = command.replace(long, short)
        args = shlex.split(command)
        if args[:2] == ["deal", "train"]:
            args += ["--trainer.max_steps", "4", "--trainer.val_check_interval", "2"]
        print("$", shlex.join(args))
        if args[0] == "python":
            assert sample_photos_main(args[3:]) == 0
        else:
            capsys.readouterr()
            assert main(args[1:]) == 0, command
            if args[:2] == ["deal", "train"]:
                out, err = capsys.readouterr()
                # each validation: the metric beside its floor (the progress bar: tests/training/test_progress.py)
                steps = re.findall(r"step (\d+): validation pixel_f1 [\d.]+ \(predict-everything floor [\d.]+", out + err)
                assert steps == ["2", "4"], out + err
    ckpt = torch.load(tmp_path / "runs/train_tiny_cpu/run/checkpoints/final.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == 4
    assert ckpt["datamodule_hyper_parameters"]["crop_size"] == 64  # the crop from the data's size
    model, info = load_detector(tmp_path / "tiny.safetensors")
    assert info.config.encoder == "tiny" and 0.0 < info.threshold < 1.0
    records = [json.loads(line) for line in open(tmp_path / "results" / "results.jsonl")]
    assert len(records) == 6 and all(r["error"] is None and 0.0 <= r["score"] <= 1.0 for r in records)
    assert {r["detector"]["name"] if isinstance(r["detector"], dict) else r["detector"] for r in records} == {"tiny"}
