"""Shared setup of the training tests: one tiny synthetic dataset, tiny training configs, and a helper
that runs the real `deal` console command (what Lightning's launchers re-execute) in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.training.synthetic import write_dataset

N_TRAIN, N_VAL, SIZE = 32, 7, 32  # 7: an odd validation set, not divisible among 2 processes


def tiny_config(manifest, root, **trainer) -> dict:
    """A tiny native-policy training config over `manifest` (train and val splits), run folder under `root`."""
    return {
        "seed_everything": 0,
        "model": {
            "config": {"encoder": "tiny", "input_policy": "native", "image_size": 64, "train_encoder": True,
                       "prompts": {"scale_factor": 4}},
            "lr": 2e-3,
            "warmup_steps": 2,
            "pos_weight": 3.0,
            "threshold": 0.3,  # a pixel F1 that is neither 0 nor 1 after a few steps
        },
        "data": {"train": [str(manifest)], "batch_size": 4, "val_batch_size": 1, "num_workers": 0, "hflip": False},
        "trainer": {
            "accelerator": "cpu",
            "max_epochs": 2,
            "log_every_n_steps": 1,
            "num_sanity_val_steps": 0,
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "logger": {"class_path": "lightning.pytorch.loggers.CSVLogger", "init_args": {"save_dir": str(root / "runs"), "name": "tiny"}},
            **trainer,
        },
    }


def write_config(path, config: dict):
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("tiny_data"), n_train=N_TRAIN, n_val=N_VAL, size=SIZE)


def run_deal(args: list[str], cwd, timeout: int = 300) -> subprocess.CompletedProcess:
    """The installed `deal` console script, importing this checkout (PYTHONPATH), one thread per process."""
    exe = shutil.which("deal")
    command = [exe, *args] if exe else [sys.executable, "-m", "deal.cli.main", *args]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
