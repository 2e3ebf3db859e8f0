"""`deal train`'s usage checks that need no torch: the config files, the datasets, the resume checkpoint
and the log folder, answered in one sentence before Lightning is imported.

The checks that need the constructors' signatures (a key in the wrong section, a model config given as
a training config) stay with LightningCLI in deal.training.cli; the data is found by the same function
the DataModule calls (deal.training.records.find_records), so both say the same sentence.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from deal.errors import UsageError
from deal.training.defaults import LOG_DIR, TRAIN_SPLIT, VAL_SPLIT


def _options(argv: list[str]) -> list[tuple[str, str]]:
    """(--name, value) pairs in order, for `--name value` and `--name=value`."""
    pairs = []
    i = 0
    while i < len(argv):
        name, eq, inline = argv[i].partition("=")
        if name.startswith("--"):
            if eq:
                pairs.append((name, inline))
            elif i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                pairs.append((name, argv[i + 1]))
                i += 1
            else:
                pairs.append((name, ""))
        i += 1
    return pairs


def _load_config(value: str) -> Any:
    path = Path(value)
    if not path.is_file():
        raise UsageError(f"--config {value}: no such file")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise UsageError(f"{value}: not valid YAML ({str(err).splitlines()[0]})") from None


def _log_dirs(logger: Any) -> list[str]:
    """The save_dir of each logger of a trainer.logger value (a dict, a list of them, or true/false)."""
    loggers = logger if isinstance(logger, list) else [logger]
    dirs = []
    for item in loggers:
        if isinstance(item, dict):
            save_dir = (item.get("init_args") or {}).get("save_dir")
            if isinstance(save_dir, str):
                dirs.append(save_dir)
    return dirs


def check_can_create(path: str | os.PathLike, option: str) -> None:
    """``path`` (a folder) exists or can be made, and files can be written there; creates nothing."""
    path = Path(path)
    above = path
    while not above.exists() and above != above.parent:
        above = above.parent
    if not above.is_dir():
        raise UsageError(f"{option} {path}: cannot write there ({above} is a file, not a folder)")
    try:
        with tempfile.TemporaryFile(dir=above):
            pass
    except OSError as err:
        raise UsageError(f"{option} {path}: cannot write there ({err.strerror or type(err).__name__})") from None


def check_train_arguments(argv: list[str]) -> None:
    """Raises UsageError for a missing or unreadable config, a dataset that is not there or lacks the
    asked split, a missing --ckpt_path, or a log folder that cannot be written."""
    from deal.data.errors import DatasetError
    from deal.training.records import find_records

    data: dict[str, Any] = {"train": None, "val": None, "train_split": TRAIN_SPLIT, "val_split": VAL_SPLIT}
    log_dirs = [LOG_DIR]
    ckpt_path = None
    is_training_config = True
    for name, value in _options(argv):
        if name == "--config":
            config = _load_config(value)
            if not isinstance(config, dict) or not {"model", "data", "trainer"} & set(config):
                is_training_config = False  # deal.training.cli says what it is instead
                continue
            section = config.get("data") or {}
            if isinstance(section, dict):
                data.update({k: v for k, v in section.items() if k in data})
            trainer = config.get("trainer") or {}
            if isinstance(trainer, dict) and "logger" in trainer:
                log_dirs = _log_dirs(trainer["logger"])
        elif name.startswith("--data.") and name[len("--data.") :] in data:
            data[name[len("--data.") :]] = yaml.safe_load(value) if value.startswith("[") else value
        elif name == "--ckpt_path":
            ckpt_path = value
    if not is_training_config:
        return
    if any(name in ("--print_config", "--help") for name, _ in _options(argv)) or "-h" in argv:
        return  # prints and exits before any data is read or anything is written: nothing more to check
    if ckpt_path and not Path(ckpt_path).is_file():
        raise UsageError(f"--ckpt_path {ckpt_path}: no such file")
    if data["train"]:
        try:
            find_records(data["train"], data["train_split"], "train", "train_split")
            find_records(
                data["val"] or data["train"],
                data["val_split"],
                "val" if data["val"] else "train",
                "val_split",
            )
        except DatasetError as err:
            raise UsageError(str(err)) from None
    for folder in log_dirs:
        check_can_create(folder, "trainer.logger save_dir")
