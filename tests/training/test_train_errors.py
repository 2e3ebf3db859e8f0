"""The mistakes a newcomer makes with `deal train` get one sentence naming the problem and the fix, exit
code 2, and leave no run folder; `deal train --help` answers without importing torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

from deal.cli.main import main
from tests.conftest import REPO_ROOT
from tests.training.conftest import tiny_config, write_config


@pytest.fixture
def good_config(tiny_dataset, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return write_config(tmp_path / "train.yaml", tiny_config(tiny_dataset, tmp_path))


def _fails(args, capsys) -> str:
    capsys.readouterr()
    assert main(["train", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("deal train: error: "), err
    return err


def _nothing_written(root):
    assert not (root / "runs").exists() and not (root / "lightning_logs").exists()


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--data.val", "CocoGlide"], "data.val: dataset path does not exist: CocoGlide; pass a dataset folder or manifest.csv"),
        (["--data.train_split", "test"], "data.train: no records of split 'test' in"),
        (["--model.crop_size", "64"], "--model.crop_size: crop_size is not a model option; it belongs as --data.crop_size"),
        (["--max_steps", "5"], "--max_steps: not a top-level option; it belongs as --trainer.max_steps"),
    ],
)
def test_bad_options(good_config, capsys, extra, expected):
    err = _fails(["--config", str(good_config), *extra], capsys)
    assert expected in err
    if "split" in expected:
        assert "set --data.train_split to one of those" in err and "train: 32" in err
    _nothing_written(good_config.parent)


def test_model_config_given_as_training_config(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    err = _fails(["--config", str(REPO_ROOT / "configs" / "mfpt_tiny.yaml")], capsys)
    assert "mfpt_tiny.yaml is a model config (" in err and "not a training config" in err
    assert "configs/train_tiny_cpu.yaml" in err and "--model.config" in err
    _nothing_written(tmp_path)


def test_key_in_the_wrong_section(tiny_dataset, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    config = tiny_config(tiny_dataset, tmp_path)
    config["data"]["max_steps"] = 5
    err = _fails(["--config", str(write_config(tmp_path / "bad.yaml", config))], capsys)
    assert err.endswith("bad.yaml: max_steps is not a data option; it belongs under trainer: (trainer.max_steps)")
    config["data"].pop("max_steps")
    config["model"]["config"]["crop"] = 64
    err = _fails(["--config", str(write_config(tmp_path / "bad2.yaml", config))], capsys)
    assert "crop is not a model.config option" in err
    _nothing_written(tmp_path)


def test_help_is_short_and_imports_no_torch():
    code = "import sys; from deal.cli.main import main; main(['train', '--help']); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=120).stdout
    lines = out.splitlines()
    assert lines[-1] == "False"  # nothing heavy imported
    assert lines[0].startswith("usage: deal train --config") and len(lines) < 45
    assert "deal train --config configs/train_tiny_cpu.yaml" in out and "--help-all" in out
    docs = (REPO_ROOT / "docs" / "training.md").read_text()
    recipe = [line.strip() for line in out.splitlines() if line.strip().startswith(("deal ", "python -m deal_data_tools"))]
    assert len(recipe) >= 6 and all(line in docs for line in recipe[:6])  # the help's recipe is the docs


def test_no_arguments_prints_the_usage(capsys):
    assert main(["train"]) == 2
    assert capsys.readouterr().out.startswith("usage: deal train")
