"""`deal train`: LightningCLI over MFPTModule and LocalizationDataModule.

YAML keys are the constructors' argument names (model.config.encoder, data.crop_size, trainer.devices,
...), any key can be overridden on the command line (--trainer.max_steps 100), --print_config prints
the full resolved config. Several GPUs and nodes: set trainer.devices / trainer.num_nodes (Lightning's
own launchers; under torchrun or SLURM Lightning reads the environment instead). Resume: --ckpt_path
PATH (loaded with weights_only=True).

Mistakes a newcomer makes (a model config where a training config goes, a key in the wrong section, a
dataset without the asked split, a path that is not a dataset) are reported in one sentence naming the
problem and the fix, exit code 2, before anything is written. jsonargparse checks every key; this module
adds only what it cannot: where a rejected key belongs, the datasets checked before anything is written,
and the final checkpoint (each below says why).
"""

from __future__ import annotations

import difflib
import inspect
import os
import re
import sys
from dataclasses import fields
from pathlib import Path

from jsonargparse import ArgumentError
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.cli import LightningCLI

from deal.data.errors import DatasetError
from deal.modeling.config import ModelConfig
from deal.modeling.sam_checkpoint import CheckpointError
from deal.training.datamodule import LocalizationDataModule, find_records
from deal.training.module import MFPTModule

MONITOR = "val/pixel_f1"
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
        # run=False (no fit subcommand, so the datasets are checked before the trainer writes anything)
        # leaves LightningCLI without its --ckpt_path: declared here.
        parser.add_argument("--ckpt_path", type=str | None, default=None, help="resume from this checkpoint")
        parser.link_arguments("model.config.input_policy", "data.policy")
        parser.link_arguments("model.config.image_size", "data.image_size")

    def parse_arguments(self, parser, args) -> None:
        # `args` is always given (deal.cli.main passes argv after `train`): LightningCLI's warning about
        # args and sys.argv both being set does not apply.
        self.config = parser.parse_args(args)
        # The data is checked here, before anything is seeded, built or written: a dataset problem is one
        # sentence and no run folder.
        data = self.config["data"]
        find_records(data["train"], data["train_split"], "train", "train_split")
        find_records(data["val"] or data["train"], data["val_split"], "val" if data["val"] else "train", "val_split")


# --- saying where a misplaced key belongs -------------------------------------------------------------
# jsonargparse rejects an unknown key (in a --config file or on the command line) in its own words; it
# cannot say where the key belongs, nor that a model config was given where a training config goes. These
# few lines read its message and add that (the only checks of keys here: jsonargparse does the checking).
_REJECTED = (
    re.compile(r"Group '(?P<section>[\w.]+)' does not accept option '(?P<key>[\w.]+)'"),  # in a config file
    re.compile(r"Option '(?P<key>[\w.]+)' is not accepted"),  # a top-level key in a config file
    re.compile(r"unrecognized arguments: --(?P<dotted>[\w.]+)"),  # on the command line
)


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


def _misplaced(key: str, section: str, where: str, allowed: dict[str, set[str]], cli: bool) -> str:
    home = _home(key, allowed, section)
    if cli and not section and home:
        return f"{where}: not a top-level option; it belongs as --{home}.{key}"
    what = f"a {section} option" if section else "a top-level key"
    if home is not None:
        fix = f"--{home}.{key}" if cli else f"under {home}: ({home}.{key})" if home else "at the top level"
        return f"{where}: {key} is not {what}; it belongs {'as ' if cli else ''}{fix}"
    close = difflib.get_close_matches(key, sorted(allowed[section]), n=1)
    hint = f"; did you mean {close[0]}?" if close else f"; deal train --help-all lists the {section or 'top-level'} options"
    return f"{where}: {key} is not {what}{hint}"


def explain_rejected_key(err: Exception, args: list[str]) -> str | None:
    """jsonargparse's rejection of a key as one sentence naming where it belongs (None: not such an error)."""
    text = str(err)
    allowed = _allowed_keys()
    configs = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--config"]
    configs += [a.split("=", 1)[1] for a in args if a.startswith("--config=")]
    where = configs[0] if len(configs) == 1 else "--config"
    for pattern in _REJECTED:
        m = pattern.search(text)
        if m is None:
            continue
        groups = m.groupdict()
        if groups.get("dotted"):  # --section.key (or --key) on the command line
            section, _, key = groups["dotted"].rpartition(".")
            section, key = (section, key) if section in allowed else ("", groups["dotted"])
            if section == "" and "." in key:
                head, _, key = key.partition(".")
                return _misplaced(head, "", f"--{groups['dotted']}", allowed, cli=True)
            return _misplaced(key, section, f"--{groups['dotted']}", allowed, cli=True)
        section, key = groups.get("section") or "", groups["key"]
        if not section and key.split(".")[0] in allowed["model.config"]:
            return (
                f"{where} is a model config ({key.split('.')[0]}), not a training config: start from a training "
                f"config such as configs/train_tiny_cpu.yaml and give this file as --model.config {where}"
            )
        if "." in key:  # a nested section: model + config.crop -> model.config + crop
            inner, _, key = key.rpartition(".")
            section = f"{section}.{inner}" if section else inner
        if section not in allowed:
            section, key = "", section.split(".")[0]
        return _misplaced(key, section, where, allowed, cli=False)
    return None


def _argument_error(err: Exception) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    text = " ".join(lines[:2]) if lines else type(err).__name__
    return text if len(text) < 400 else text[:400] + " ..."


def run_training(args: list[str]) -> int:
    try:
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
                    {"class_path": "lightning.pytorch.loggers.CSVLogger", "init_args": {"save_dir": "runs", "name": "deal"}},
                    {"class_path": "lightning.pytorch.loggers.TensorBoardLogger", "init_args": {"save_dir": "runs", "name": "deal_tensorboard"}},
                ],
            },
        )
        cli.datamodule.load_records()
    except (TrainingUsageError, DatasetError, CheckpointError, FileNotFoundError) as err:
        print(f"deal train: error: {err}", file=sys.stderr)
        return 2
    except ArgumentError as err:
        explained = explain_rejected_key(err, args)
        message = explained or f"{_argument_error(err)} (deal train --help)"
        print(f"deal train: error: {message}", file=sys.stderr)
        return 2
    trainer = cli.trainer
    ckpt_path = cli.config.get("ckpt_path")
    if ckpt_path and not Path(ckpt_path).is_file():  # Lightning would fail only after creating the run folder
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
        final = os.path.join(callback.dirpath, "final.ckpt")
        trainer.save_checkpoint(final, weights_only=False)  # resumable; written by global rank 0 only
        if trainer.is_global_zero:
            print(f"final checkpoint: {final}")
    best = getattr(callback, "best_model_path", "")
    if best and trainer.is_global_zero:
        print(f"best checkpoint: {best}")
    return 0
