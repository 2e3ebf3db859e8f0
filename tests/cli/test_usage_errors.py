"""Every usage error of the commands a newcomer meets first is one sentence and exit code 2, answered
before torch is imported, and writes nothing.

Each case runs `deal` in a subprocess (a fresh interpreter, so `sys.modules` says what the command
imported) from an empty working folder, and compares the folder's contents before and after.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, SHARED_DATA

# Runs the CLI, then reports on stderr's last line whether torch was imported.
_WRAPPER = (
    "import sys\n"
    "from deal.cli.main import main\n"
    "try:\n"
    "    rc = main(sys.argv[1:])\n"
    "except SystemExit as exit:\n"
    "    rc = exit.code\n"
    "print('TORCH_IMPORTED=' + str('torch' in sys.modules), file=sys.stderr)\n"
    "sys.exit(rc)\n"
)

COCOGLIDE = SHARED_DATA / "fixtures" / "CocoGlide"


def _deal(args: list[str], cwd: Path) -> tuple[int, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=120
    )
    lines = proc.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("TORCH_IMPORTED="), proc.stderr
    assert lines[-1] == "TORCH_IMPORTED=False", f"{args}: torch was imported\n{proc.stderr}"
    return proc.returncode, "\n".join(lines[:-1])


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture
def work(tmp_path):
    """An empty working folder holding a plain file (to use as an impossible parent), images, and a
    safetensors file without deal's metadata."""
    import numpy as np
    from PIL import Image
    from safetensors.numpy import save_file

    (tmp_path / "a_file").write_text("x")
    Image.new("RGB", (32, 32)).save(tmp_path / "photo.png")
    (tmp_path / "other").mkdir()  # out of the patterns' way
    Image.new("RGB", (32, 32)).save(tmp_path / "other" / "notimg.jpg")
    save_file({"w": np.zeros(4, np.float32)}, str(tmp_path / "plain.safetensors"))
    return tmp_path


# (arguments, expected sentence). {w} is the working folder.
CASES = {
    "detect: bad option": (["detect", "photo.png", "--out", "o", "--bogus"], "unrecognized arguments: --bogus"),
    "detect: bad option value": (["detect", "photo.png", "--out", "o", "--threshold", "2"], "--threshold must be in [0, 1], got 2.0"),
    "detect: unknown view": (["detect", "photo.png", "--out", "o", "--views", "ela,sift"], "--views: unknown view 'sift'; choose from ela, noise, jpeg, spectral, copymove"),
    "detect: no input matched": (["detect", "*.jpg", "--out", "o"], "no images to process: *.jpg: no image matches this pattern"),
    "detect: missing path": (["detect", "nope.jpg", "--out", "o"], "no images to process: nope.jpg: no such file or folder"),
    "detect: missing list": (["detect", "--inputs-from", "list.txt", "--out", "o"], "list.txt: cannot read this list of inputs"),
    "detect: missing detector": (["detect", "photo.png", "--out", "o", "--detector", "d.safetensors"], "detector file not found: d.safetensors"),
    "detect: an image as detector": (["detect", "photo.png", "--out", "o", "--detector", "other/notimg.jpg"], "detector file other/notimg.jpg: not a deal detector file (not a safetensors file)"),
    "detect: a safetensors file as detector": (["detect", "photo.png", "--out", "o", "--detector", "plain.safetensors"], "detector file plain.safetensors: not a deal detector file (a safetensors file without deal's metadata)"),
    "detect: a file as parent of --out": (["detect", "photo.png", "--out", "a_file/o"], "--out a_file/o: cannot write there (a_file is a file, not a folder)"),
    "detect: --out under /proc": (["detect", "photo.png", "--out", "/proc/deal_out"], "--out /proc/deal_out: cannot write to this folder"),
    "benchmark: missing dataset": (["benchmark", "--dataset", "x=/nope", "--out", "o"], "--dataset x=/nope: no such file or folder"),
    "benchmark: bad perturbation": (["benchmark", "--dataset", str(COCOGLIDE), "--perturb", "zoom=2", "--out", "o"], "zoom"),
    "benchmark: a file as parent of --out": (["benchmark", "--dataset", str(COCOGLIDE), "--out", "a_file/b"], "--out a_file/b: cannot write there (a_file is a file, not a folder)"),
    "benchmark: missing detector": (["benchmark", "--dataset", str(COCOGLIDE), "--detector", "d.safetensors", "--out", "o"], "detector file not found: d.safetensors"),
    "benchmark: an image as detector": (["benchmark", "--dataset", str(COCOGLIDE), "--detector", "other/notimg.jpg", "--out", "o"], "detector file other/notimg.jpg: not a deal detector file"),
    "benchmark: unknown baseline": (["benchmark", "--dataset", str(COCOGLIDE), "--baseline", "nope", "--out", "o"], "unknown baseline 'nope'; choose one of predict-everything, centre, ela, noise, jpeg, spectral-slope, copymove, spectral-kurtosis"),
    "benchmark: bad --bootstrap": (["benchmark", "--dataset", str(COCOGLIDE), "--bootstrap", "-1", "--out", "o"], "--bootstrap must be at least 0, got -1"),
    "evaluate: bad --bootstrap": (["evaluate", "--pred", ".", "--dataset", str(COCOGLIDE), "--bootstrap", "-1"], "--bootstrap must be at least 0, got -1"),
    "evaluate: missing --pred": (["evaluate", "--pred", "preds", "--dataset", str(COCOGLIDE)], "--pred preds: no such folder"),
    "evaluate: missing dataset": (["evaluate", "--pred", ".", "--dataset", "x=/nope"], "--dataset x=/nope: no such file or folder"),
    "evaluate: --json under /proc": (["evaluate", "--pred", ".", "--dataset", str(COCOGLIDE), "--json", "/proc/e.json"], "--json /proc/e.json: cannot write this file"),
    "export: missing checkpoint": (["export", "run.ckpt", "--out", "d.safetensors"], "checkpoint not found: run.ckpt"),
    "export: bad precision": (["export", "photo.png", "--out", "d.safetensors", "--precision", "0"], "--precision must be in (0, 1], got 0.0"),
    "export: a file as parent of --out": (["export", "photo.png", "--out", "a_file/d.safetensors"], "--out a_file/d.safetensors: cannot write there (a_file is a file, not a folder)"),
    "train: missing config": (["train", "--config", "nope.yaml"], "--config nope.yaml: no such file"),
    "train: missing dataset": (["train", "--config", str(REPO_ROOT / "configs" / "train_tiny_cpu.yaml")], "data.train: dataset path does not exist: synth/train/manifest.csv"),
    "train: missing resume checkpoint": (["train", "--config", str(REPO_ROOT / "configs" / "train_tiny_cpu.yaml"), "--data.train", str(COCOGLIDE), "--data.train_split", "", "--data.val_split", "", "--ckpt_path", "last.ckpt"], "--ckpt_path last.ckpt: no such file"),
    "verify: missing folder": (["verify", "/nope"], "/nope: no such folder"),
    "verify: a file": (["verify", "a_file"], "a_file: is a file, not a run folder of deal detect"),
    "verify: a folder that is not a run": (["verify", "."], ".: not a run folder of deal detect (it holds no MANIFEST.sha256, run.json, results.jsonl)"),
    "demo: bad option value": (["demo", "--n", "0"], "--n must be at least 1, got 0"),
    "demo: --out under /proc": (["demo", "--out", "/proc/deal_demo"], "--out /proc/deal_demo: cannot write to this folder"),
    "demo: a file as parent of --out": (["demo", "--out", "a_file/demo"], "--out a_file/demo: cannot write there (a_file is a file, not a folder)"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_usage_error_is_one_sentence_before_torch(case, work):
    args, expected = CASES[case]
    if any(str(COCOGLIDE) in a for a in args) and not COCOGLIDE.is_dir():
        pytest.skip("the CoCoGlide fixture is not in ../shared/data")
    before = _tree(work)
    rc, err = _deal(args, work)
    assert rc == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    command = args[0]
    assert lines[0].startswith((f"deal {command}: error: ", "deal: error: ")), err
    assert expected in lines[0], err
    assert _tree(work) == before  # nothing written


def test_read_only_output_folder(work):
    if os.geteuid() == 0:
        pytest.skip("running as root: a read-only folder is writable anyway")
    locked = work / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        rc, err = _deal(["detect", "photo.png", "--out", "locked/o"], work)
    finally:
        locked.chmod(0o755)
    assert rc == 2 and err.startswith("deal detect: error: --out locked/o: cannot write") and "Permission" in err
