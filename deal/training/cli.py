"""`deal train`: LightningCLI over MFPTModule and LocalizationDataModule.

YAML keys are the constructors' argument names (model.config.encoder, data.crop_size, trainer.devices,
...), any key can be overridden on the command line (--trainer.max_steps 100), --print_config prints
the full resolved config. Several GPUs and nodes: set trainer.devices / trainer.num_nodes (Lightning's
own DDP). Resume: --ckpt_path PATH (loaded with weights_only=True).
"""

from __future__ import annotations

import os

from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.cli import LightningCLI

from deal.training.datamodule import LocalizationDataModule
from deal.training.module import MFPTModule

MONITOR = "val/pixel_f1"


def default_callbacks() -> list:
    return [
        ModelCheckpoint(monitor=MONITOR, mode="max", save_last=True, filename="best-{epoch}-{step}", auto_insert_metric_name=False),
        LearningRateMonitor(logging_interval="step"),
    ]


class DealCLI(LightningCLI):
    def add_arguments_to_parser(self, parser) -> None:
        parser.add_argument("--ckpt_path", type=str | None, default=None, help="resume from this checkpoint")
        parser.link_arguments("model.config.input_policy", "data.policy")


def run_training(args: list[str] | None = None) -> int:
    cli = DealCLI(
        MFPTModule,
        LocalizationDataModule,
        run=False,
        args=args,
        save_config_kwargs={"overwrite": True},
        trainer_defaults={
            "callbacks": default_callbacks(),
            "logger": [
                {"class_path": "lightning.pytorch.loggers.CSVLogger", "init_args": {"save_dir": "runs", "name": "deal"}},
                {"class_path": "lightning.pytorch.loggers.TensorBoardLogger", "init_args": {"save_dir": "runs", "name": "deal_tensorboard"}},
            ],
        },
    )
    trainer = cli.trainer
    trainer.fit(cli.model, datamodule=cli.datamodule, ckpt_path=cli.config.get("ckpt_path"), weights_only=True)
    callback = trainer.checkpoint_callback
    if callback is not None and callback.dirpath:
        # ModelCheckpoint saves at validation ends only: a run that stops at max_steps between two
        # validations would lose its final weights. final.ckpt is the model as training left it.
        trainer.save_checkpoint(os.path.join(callback.dirpath, "final.ckpt"), weights_only=False)  # resumable
        print(f"final checkpoint: {os.path.join(callback.dirpath, 'final.ckpt')}")
    best = getattr(callback, "best_model_path", "")
    if best:
        print(f"best checkpoint: {best}")
    return 0
