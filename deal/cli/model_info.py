"""deal model-info: parameters per part, FLOPs per image, and how a SAM checkpoint loads."""

from __future__ import annotations

import argparse

HELP = "print parameters, FLOPs and checkpoint keys of a model config"
DESCRIPTION = """Print total and trainable parameters per part (encoder, prompts, decoder), FLOPs per image at
the configured input size, the base SAM checkpoint's sha256 and its ignored / missing / unexpected keys.

  deal model-info configs/mfpt_vit_b.yaml --sam-checkpoint weights/sam_vit_b_01ec64.pth --json
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="model config YAML (configs/mfpt_vit_b.yaml) or a training config")
    p.add_argument("--sam-checkpoint", help="official-format SAM checkpoint (default: the official file if present)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    import json
    import sys

    import torch

    from deal.hub import SAM_CHECKPOINTS, find_weights
    from deal.modeling.config_file import load_model_config
    from deal.modeling.mfpt import MFPT
    from deal.modeling.sam_checkpoint import load_sam_checkpoint
    from deal.modeling.summary import flops_per_image, parameter_counts

    config = load_model_config(args.config)
    checkpoint = args.sam_checkpoint
    if checkpoint is None and config.encoder in SAM_CHECKPOINTS:
        found = find_weights(SAM_CHECKPOINTS[config.encoder])
        checkpoint = str(found) if found else None
    report = None
    if checkpoint:
        model = MFPT(config)
        report = load_sam_checkpoint(model, checkpoint, strict=False)
    else:
        with torch.device("meta"):
            model = MFPT(config)
    info = parameter_counts(model)
    info.update(
        {
            "config": str(args.config),
            "encoder": config.encoder,
            "input_policy": config.input_policy,
            "image_size": config.image_size,
            "flops_per_image": flops_per_image(model, config.image_size),
            "base_checkpoint": checkpoint,
            "base_sha256": report.sha256 if report else None,
            "ignored_keys": report.ignored_keys if report else [],
            "missing_keys": report.missing_keys if report else [],
            "unexpected_keys": report.unexpected_keys if report else [],
        }
    )
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        parts = info["parts"]
        print(f"model       {config.encoder}, input policy {config.input_policy}, image size {config.image_size}")
        for name, c in parts.items():
            print(f"  {name:<9} {c['total'] / 1e6:9.3f} M params, {c['trainable'] / 1e6:9.3f} M trainable")
        print(f"  {'total':<9} {info['params_total'] / 1e6:9.3f} M params, {info['params_trainable'] / 1e6:9.3f} M trainable")
        print(f"FLOPs       {info['flops_per_image'] / 1e9:.1f} GFLOP per {config.image_size}x{config.image_size} image")
        if report:
            print(f"checkpoint  {checkpoint}\n  sha256    {report.sha256}")
            print(f"  loaded {report.loaded} tensors; ignored {len(report.ignored_keys)}: {', '.join(report.ignored_keys)}")
            print(f"  missing {report.missing_keys or 'none'}; unexpected {report.unexpected_keys or 'none'}")
        else:
            print("checkpoint  none given or found (run: deal weights fetch <size>); encoder weights random", file=sys.stderr)
    return 1 if report and (report.missing_keys or report.unexpected_keys) else 0
