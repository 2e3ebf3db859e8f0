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


def _shortened_training(folder, photos) -> dict[str, float]:  # noqa: ANN001
    """The recipe's data and `deal train` lines, shortened, run in ``folder`` (the current directory): the
    last validation's figures."""
    import csv

    (folder / "configs").symlink_to(REPO_ROOT / "configs")
    (folder / "photos").symlink_to(photos)
    for command in readme_recipe()[1:4]:
        for long, short in SHORTEN.items():
            command = command.replace(long, short)
        args = shlex.split(command)[1:]
        if args[0] == "train":
            args += ["--trainer.max_steps", "6", "--trainer.val_check_interval", "6", "--data.num_workers", "1"]
        assert main(args) == 0, command
    with open(folder / "runs/train_tiny_cpu/run/metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return {k: float(v) for row in rows for k, v in row.items() if k.startswith("val/") and v != ""}


def test_two_runs_with_one_seed_give_the_same_validation_figures_above_the_floor(tmp_path, monkeypatch):
    """Seeded augmentations (per loader worker), seeded shuffling, one thread count: the same figures; and the
    model, which starts from the training-free cue's map, is above the predict-everything floor."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        photos = tmp_path / "photos"
        assert sample_photos_main([str(photos)]) == 0
        figures = []
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            monkeypatch.chdir(tmp_path / name)
            figures.append(_shortened_training(tmp_path / name, photos))
    finally:
        torch.set_num_threads(threads)
    a, b = figures
    assert a.keys() == b.keys() and "val/pixel_f1" in a
    for key in a:  # the same machine, seed, data and thread count: equal within float32 noise
        assert a[key] == pytest.approx(b[key], rel=1e-6, abs=1e-9), key
    assert a["val/pixel_f1"] > a["val/pixel_f1_floor"]
