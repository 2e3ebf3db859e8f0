"""`deal train`: LightningCLI over MFPTModule and LocalizationDataModule.

YAML keys are the constructors' argument names (model.config.encoder, data.crop_size, trainer.devices,
...), any key can be overridden on the command line (--trainer.max_steps 100), --print_config prints
the full resolved config. Several GPUs and nodes: set trainer.devices / trainer.num_nodes (Lightning's
own launchers; under torchrun or SLURM Lightning reads the environment instead). Resume: --ckpt_path
PATH (loaded with weights_only=True).

Mistakes a newcomer makes (a model config where a training config goes, a key in the wrong section, a
dataset without the asked split, a path that is not a dataset) are reported in one sentence naming the
problem and the fix, exit code 2, before anything is written.
"""

from __future__ import annotations

import difflib
import inspect
import os
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml
from jsonargparse import ArgumentError
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint, ProgressBar
from lightning.pytorch.cli import LightningCLI

from deal.data.errors import DatasetError
from deal.modeling.config import ModelConfig
from deal.modeling.sam_checkpoint import CheckpointError
from deal.training.datamodule import LocalizationDataModule, find_records
from deal.training.defaults import FINAL_CHECKPOINT, LOG_DIR
from deal.training.module import MFPTModule
from deal.training.progress import StepProgressBar

MONITOR = "val/pixel_f1"
SECTIONS = ("model", "data", "trainer")
TOP_LEVEL = {"seed_everything", "model", "data", "trainer", "ckpt_path", "optimizer", "lr_scheduler", "config"}


class TrainingUsageError(ValueError):
    """A training config or option that cannot work; the message is one sentence with the fix."""


def default_callbacks() -> list:
    return [
        ModelCheckpoint(monitor=MONITOR, mode="max", save_last=True, filename="best-{epoch}-{step}", auto_insert_metric_name=False),
        LearningRateMonitor(logging_interval="step"),
    ]


class DealCLI(LightningCLI):
    def add_arguments_to_parser(self, parser) -> None:
        parser.add_argument("--ckpt_path", type=str | None, default=None, help="resume from this checkpoint")
        parser.link_arguments("model.config.input_policy", "data.policy")

    def _instantiate_trainer(self, config: dict[str, Any], callbacks: list) -> Trainer:
        # One progress bar over the whole run (steps of max_steps, time left) unless the config turns bars
        # off or brings its own.
        own = [*(config.get("callbacks") or []), *callbacks]
        if config.get("enable_progress_bar", True) is not False and not any(isinstance(c, ProgressBar) for c in own):
            callbacks = [*callbacks, StepProgressBar()]
        return super()._instantiate_trainer(config, callbacks)

    def parse_arguments(self, parser, args) -> None:
        # `args` is always given (deal.cli.main passes argv after `train`): LightningCLI's warning about
        # args and sys.argv both being set does not apply.
        self.config = parser.parse_args(args)
        # The data is checked here, before anything is seeded, built or written: a dataset problem is one
        # sentence and no run folder.
        data = self.config["data"]
        find_records(data["train"], data["train_split"], "train", "train_split")
        find_records(data["val"] or data["train"], data["val_split"], "val" if data["val"] else "train", "val_split")


# --- checking a config before LightningCLI sees it ----------------------------------------------------
def _allowed_keys() -> dict[str, set[str]]:
    def params(fn) -> set[str]:
        return {n for n, p in inspect.signature(fn).parameters.items() if n != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}

    return {
        "model": params(MFPTModule.__init__),
        "model.config": {f.name for f in fields(ModelConfig)},
        "data": params(LocalizationDataModule.__init__),
        "trainer": params(Trainer.__init__),
        "": TOP_LEVEL,
    }


def _home(key: str, allowed: dict[str, set[str]], not_in: str) -> str | None:
    """The section where `key` belongs, other than `not_in`."""
    for section in ("data", "trainer", "model", "model.config", ""):
        if section != not_in and key in allowed[section]:
            return section
    return None


def _misplaced(key: str, section: str, where: str, allowed: dict[str, set[str]], cli: bool) -> TrainingUsageError:
    home = _home(key, allowed, section)
    what = f"a {section} option" if section else "a top-level key"
    if home is not None:
        fix = f"--{home}.{key}" if cli else f"under {home}: ({home}.{key})" if home else "at the top level"
        if cli and not home:
            fix = f"--{key}"
        return TrainingUsageError(f"{where}: {key} is not {what}; it belongs {'as ' if cli else ''}{fix}")
    close = difflib.get_close_matches(key, sorted(allowed[section]), n=1)
    hint = f"; did you mean {close[0]}?" if close else f"; deal train --help-all lists the {section or 'top-level'} options"
    return TrainingUsageError(f"{where}: {key} is not {what}{hint}")


def check_config_dict(config: Any, where: str, allowed: dict[str, set[str]] | None = None) -> None:
    """Raises TrainingUsageError for a model config given as a training config, or a key in the wrong place."""
    allowed = allowed or _allowed_keys()
    if not isinstance(config, dict):
        raise TrainingUsageError(f"{where}: not a training config (a YAML mapping with model:, data: and trainer:)")
    model_keys = set(config) & allowed["model.config"]
    if model_keys and not set(config) & set(SECTIONS):
        raise TrainingUsageError(
            f"{where} is a model config ({', '.join(sorted(model_keys))}), not a training config: start from a "
            f"training config such as configs/train_tiny_cpu.yaml and give this file as --model.config {where}"
        )
    for key in config:
        if key not in allowed[""]:
            raise _misplaced(key, "", where, allowed, cli=False)
    for section in SECTIONS:
        values = config.get(section)
        if values is None:
            continue
        if not isinstance(values, dict):
            raise TrainingUsageError(f"{where}: {section}: must be a mapping of {section} options, got {values!r}")
        for key in values:
            if key not in allowed[section]:
                raise _misplaced(key, section, where, allowed, cli=False)
        inner = values.get("config") if section == "model" else None
        if isinstance(inner, dict):
            for key in inner:
                if key not in allowed["model.config"]:
                    raise _misplaced(key, "model.config", where, allowed, cli=False)


def check_arguments(argv: list[str]) -> None:
    """Checks the --config files and the --section.key overrides of a `deal train` command line."""
    allowed = _allowed_keys()
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, _, inline = arg.partition("=")
        if name == "--config":
            value = inline or (argv[i + 1] if i + 1 < len(argv) else "")
            path = Path(value)
            if not path.is_file():
                raise TrainingUsageError(f"--config {value}: no such file")
            try:
                loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
            except yaml.YAMLError as err:
                raise TrainingUsageError(f"{value}: not valid YAML ({str(err).splitlines()[0]})") from None
            check_config_dict(loaded, value, allowed)
        elif name == "--model.config":
            value = inline or (argv[i + 1] if i + 1 < len(argv) else "")
            if value.endswith((".yaml", ".yml")) and Path(value).is_file():
                loaded = yaml.safe_load(Path(value).read_text(encoding="utf-8"))
                if isinstance(loaded, dict) and set(loaded) & set(SECTIONS):
                    raise TrainingUsageError(
                        f"--model.config {value}: a training config, not a model config; pass it as --config {value}"
                    )
        elif name.startswith("--") and "." in name:
            parts = name[2:].rstrip("+").split(".")
            section, key = parts[0], parts[1]
            if section not in allowed:
                raise _misplaced(section, "", name, allowed, cli=True)
            if key not in allowed[section]:
                raise _misplaced(key, section, name, allowed, cli=True)
            if section == "model" and key == "config" and len(parts) > 2 and parts[2] not in allowed["model.config"]:
                raise _misplaced(parts[2], "model.config", name, allowed, cli=True)
        elif name.startswith("--") and name[2:] not in allowed[""] | {"print_config", "help"}:
            home = _home(name[2:], allowed, "")
            if home:
                raise TrainingUsageError(f"{name}: not a top-level option; it belongs as --{home}.{name[2:]}")
        i += 1


def _argument_error(err: Exception) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    text = " ".join(lines[:2]) if lines else type(err).__name__
    return text if len(text) < 400 else text[:400] + " ..."


def run_training(args: list[str]) -> int:
    try:
        check_arguments(args)
        cli = DealCLI(
            MFPTModule,
            LocalizationDataModule,
            run=False,
            args=args,
            parser_kwargs={"exit_on_error": False},
            save_config_kwargs={"overwrite": True},
            trainer_defaults={
                "callbacks": default_callbacks(),
                "logger": [
                    {"class_path": "lightning.pytorch.loggers.CSVLogger", "init_args": {"save_dir": LOG_DIR, "name": "deal"}},
                    {"class_path": "lightning.pytorch.loggers.TensorBoardLogger", "init_args": {"save_dir": LOG_DIR, "name": "deal_tensorboard"}},
                ],
            },
        )
        data_hp = cli.datamodule.hparams
        if data_hp.crop_size is None and data_hp.policy == "sam":  # the sam policy resizes to the model's size
            data_hp.crop_size = cli.model.config.image_size
        cli.datamodule.load_records()
    except (TrainingUsageError, DatasetError, CheckpointError, FileNotFoundError) as err:
        print(f"deal train: error: {err}", file=sys.stderr)
        return 2
    except ArgumentError as err:
        print(f"deal train: error: {_argument_error(err)} (deal train --help)", file=sys.stderr)
        return 2
    trainer = cli.trainer
    ckpt_path = cli.config.get("ckpt_path")
    if ckpt_path and not Path(ckpt_path).is_file():
        print(f"deal train: error: --ckpt_path {ckpt_path}: no such file", file=sys.stderr)
        return 2
    try:
        trainer.fit(cli.model, datamodule=cli.datamodule, ckpt_path=ckpt_path, weights_only=True)
    except CheckpointError as err:  # resuming over another SAM checkpoint, or without one
        print(f"deal train: error: {ckpt_path}: {err}", file=sys.stderr)
        return 2
    callback = trainer.checkpoint_callback
    if callback is not None and callback.dirpath:
        # ModelCheckpoint saves at validation ends only: a run that stops at max_steps between two
        # validations would lose its final weights. final.ckpt is the model as training left it.
        final = os.path.join(callback.dirpath, FINAL_CHECKPOINT)
        trainer.save_checkpoint(final, weights_only=False)  # resumable; written by global rank 0 only
        if trainer.is_global_zero:
            print(f"final checkpoint: {final}")
    best = getattr(callback, "best_model_path", "")
    if best and trainer.is_global_zero:
        print(f"best checkpoint: {best}")
    return 0
