"""Loading the official SAM checkpoints (sam_vit_{b,l,h}_*.pth) into MFPT.

The key remapping is a pure function. Keys the prompt-free model does not use (point embeddings and
mask downscaling of SAM's PromptEncoder) are skipped by name and reported as ignored; any other
missing or unexpected key is an error that names the keys. Files load with weights_only=True.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from deal.modeling.config import ENCODER_SPECS
from deal.modeling.image_encoder import sam_to_timm_key

# Parts of SAM's PromptEncoder that a prompt-free decoder does not use.
IGNORED_PREFIXES = (
    "prompt_encoder.point_embeddings.",
    "prompt_encoder.not_a_point_embed.",
    "prompt_encoder.mask_downscaling.",
)
# Parts of MFPT a SAM checkpoint does not hold (trained by us).
OWN_PREFIXES = ("prompt_generator.",)


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used, with the file and the reason in the message."""


@dataclass
class LoadReport:
    path: str | None
    sha256: str | None
    loaded: int = 0
    ignored_keys: list[str] = field(default_factory=list)
    missing_keys: list[str] = field(default_factory=list)
    unexpected_keys: list[str] = field(default_factory=list)


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """torch.load(weights_only=True) with errors that say what is wrong with the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError) as err:
        raise CheckpointError(f"{path}: cannot be read as a PyTorch checkpoint (truncated or corrupt?): {err}") from err
    except Exception as err:  # pickle.UnpicklingError for disallowed globals, among others
        raise CheckpointError(f"{path}: not a plain state dict (refused by weights_only=True loading): {err}") from err
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        obj = obj["model"]
    elif isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path}: not a state dict (expected a mapping of parameter names to tensors)")
    return obj


def guess_encoder_size(state_dict: dict[str, torch.Tensor]) -> str | None:
    """Which SAM size a state dict is, from its patch-embedding width and depth."""
    w = state_dict.get("image_encoder.patch_embed.proj.weight")
    if w is None:
        return None
    depth = 1 + max(
        (int(k.split(".")[2]) for k in state_dict if k.startswith("image_encoder.blocks.")), default=-1
    )
    for name, spec in ENCODER_SPECS.items():
        if spec.embed_dim == w.shape[0] and spec.depth == depth:
            return name
    return f"unknown (width {w.shape[0]}, depth {depth})"


def remap_sam_state_dict(state_dict: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Official SAM keys -> MFPT keys. Returns (remapped, ignored keys). Pure."""
    out, ignored = {}, []
    for key, value in state_dict.items():
        if key.startswith(IGNORED_PREFIXES):
            ignored.append(key)
        elif key.startswith("image_encoder."):
            out["image_encoder." + sam_to_timm_key(key[len("image_encoder.") :])] = value
        else:
            out[key] = value
    return out, sorted(ignored)


def load_sam_checkpoint(
    model: nn.Module,
    checkpoint: str | os.PathLike | dict[str, torch.Tensor],
    *,
    sha256: str | None = None,
    strict: bool = True,
) -> LoadReport:
    """Loads an official-format SAM state dict (path or dict) into an MFPT model.

    Raises CheckpointError for another model size, shape mismatches, or (strict) missing/unexpected keys.
    """
    path = None
    if not isinstance(checkpoint, dict):
        path = str(checkpoint)
        if sha256 is None:
            from deal.fileio import sha256_file

            sha256 = sha256_file(path)
        checkpoint = read_state_dict(path)
    where = path or "state dict"
    expected_size = getattr(getattr(model, "config", None), "encoder", None)
    found_size = guess_encoder_size(checkpoint)
    if expected_size and found_size and found_size != expected_size:
        raise CheckpointError(f"{where}: a SAM {found_size} checkpoint, but the model is {expected_size}")
    remapped, ignored = remap_sam_state_dict(checkpoint)
    own = model.state_dict()
    expected = {k for k in own if not k.startswith(OWN_PREFIXES)}
    missing = sorted(expected - remapped.keys())
    unexpected = sorted(remapped.keys() - own.keys())
    report = LoadReport(path, sha256, ignored_keys=ignored, missing_keys=missing, unexpected_keys=unexpected)
    if strict and (missing or unexpected):
        raise CheckpointError(
            f"{where}: does not match the model: missing keys {missing[:20]}"
            f"{' ...' if len(missing) > 20 else ''}; unexpected keys {unexpected[:20]}"
            f"{' ...' if len(unexpected) > 20 else ''}"
        )
    shape_errors = [
        f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
        for k, v in remapped.items()
        if k in own and v.shape != own[k].shape
    ]
    if shape_errors:
        raise CheckpointError(f"{where}: tensor shapes differ from the model: {shape_errors[:10]}")
    usable = {k: v for k, v in remapped.items() if k in own}
    model.load_state_dict(usable, strict=False)
    report.loaded = len(usable)
    return report
