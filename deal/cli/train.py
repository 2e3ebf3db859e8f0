"""deal train: LightningCLI (see deal/training/cli.py).

`deal train --help` answers from this module alone (no torch, no Lightning import: instant); the full
option list of LightningCLI is `deal train --help-all`. Nothing here touches sys.argv: Lightning's DDP
launcher starts each child process with the parent's own command line (`deal train ...`).
"""

from __future__ import annotations

import argparse
import sys

from deal.training.defaults import FINAL_CHECKPOINT

# The newcomer recipe: configs/train_tiny_cpu.yaml's logger writes under NEWCOMER_RUN (a test checks).
NEWCOMER_CONFIG = "configs/train_tiny_cpu.yaml"
NEWCOMER_RUN = "runs/train_tiny_cpu/run"

HELP = "train MFPT with Lightning: deal train --config configs/X.yaml [--trainer.devices N ...]"

USAGE = f"""usage: deal train --config TRAINING_CONFIG.yaml [--SECTION.KEY VALUE ...] [--ckpt_path CKPT]

Train an MFPT detector with Lightning. A training config is a YAML file with three sections:
  model:    the network (model.config: encoder, prompts, input_policy) and its optimisation
            (sam_checkpoint, loss, lr, warmup_steps, compile)
  data:     datasets (data.train, data.val: folders or manifest.csv files) and loaders
            (crop_size, batch_size, num_workers; the defaults suit the machine)
  trainer:  Lightning's Trainer (max_steps, accelerator, devices, num_nodes, precision)

First training run, on a CPU (docs/training.md):
  python -m deal_data_tools.sample_photos photos
  deal data synth --src photos --out synth/train --n 160 --size 128 --split train --weights inpaint=1,resample=1
  deal data synth --src photos --out synth/val --n 24 --size 128 --split val --seed 1 --weights inpaint=1,resample=1
  deal train --config {NEWCOMER_CONFIG}
  deal export {NEWCOMER_RUN}/checkpoints/{FINAL_CHECKPOINT} --out tiny.safetensors
  deal detect synth/val/images --detector tiny.safetensors --out results

Everyday forms:
  deal train --config C.yaml --trainer.max_steps 100          override any key
  deal train --config C.yaml --data.train data/my_set         a dataset path (or '[a, b]' for several)
  deal train --config C.yaml --trainer.devices 4              several GPUs (Lightning's DDP);
  deal train --config C.yaml --trainer.devices 8 --trainer.num_nodes 2   also under torchrun or SLURM
  deal train --config C.yaml --ckpt_path runs/X/checkpoints/last.ckpt    resume
  deal train --config C.yaml --print_config                   the full resolved config

Configs: configs/train_tiny_cpu.yaml (newcomer, CPU), configs/mfpt_vit_b_deal300k.yaml (SAM ViT-B on
DEAL-300K, GPU). configs/mfpt_*.yaml are model configs: use one as --model.config configs/mfpt_tiny.yaml.
Every option with its default: deal train --help-all
Exit codes: 0 trained, 2 usage error (a bad config, option or dataset, named in one sentence)."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    # Only for `deal --help`'s list; `deal train ...` never reaches argparse (deal.cli.main).
    p.add_argument("lightning_args", nargs=argparse.REMAINDER, help="LightningCLI arguments (--config, overrides)")


def run(args: argparse.Namespace) -> int:
    return run_train(list(args.lightning_args))


def run_train(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    if argv[0] == "--help-all":
        argv = ["--help", *argv[1:]]
    from deal.cli.train_checks import check_train_arguments
    from deal.errors import UsageError

    try:
        check_train_arguments(argv)  # torch-free: a missing file or dataset is answered at once
    except UsageError as err:
        print(f"deal train: error: {err}", file=sys.stderr)
        return 2
    from deal.training.cli import run_training

    try:
        return run_training(argv)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
