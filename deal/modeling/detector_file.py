"""A trained detector as one small file: its tensors in safetensors, its config and provenance as metadata.

With a frozen, pretrained encoder only the trained parts are stored (prompts, decoder); the encoder
comes from the SAM checkpoint named in the metadata, whose sha256 must match at load time (unless
forced). A detector whose encoder was trained stores every tensor and needs no SAM checkpoint.

Metadata keys (all strings, as safetensors requires): format, name, config (JSON of ModelConfig),
threshold, base_checkpoint, base_sha256, deal_version, extra (JSON).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from deal.modeling.config import ModelConfig
from deal.modeling.mfpt import MFPT
from deal.modeling.sam_checkpoint import CheckpointError, load_sam_checkpoint

FORMAT = "deal-detector/1"
ENCODER_PREFIX = "image_encoder."


@dataclass
class DetectorInfo:
    """What a detector file says about itself."""

    name: str
    config: ModelConfig
    threshold: float = 0.5
    base_checkpoint: str | None = None
    base_sha256: str | None = None
    deal_version: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    path: str | None = None
    sha256: str | None = None


def detector_state_dict(model: MFPT) -> dict[str, torch.Tensor]:
    """The tensors a detector file holds: all of them if the encoder was trained, else all but the encoder's."""
    state = model.state_dict()
    if model.encoder_frozen:
        state = {k: v for k, v in state.items() if not k.startswith(ENCODER_PREFIX)}
    return {k: v.detach().cpu().contiguous() for k, v in state.items()}


def save_detector(
    path: str | os.PathLike,
    model: MFPT,
    *,
    name: str,
    threshold: float = 0.5,
    base_checkpoint: str | None = None,
    base_sha256: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Writes the detector file atomically. A frozen-encoder detector must name its base checkpoint's sha256."""
    from safetensors.torch import save_file

    from deal import __version__
    from deal.fileio import atomic_path

    if model.encoder_frozen and not base_sha256:
        raise ValueError("a detector with a frozen pretrained encoder must record base_sha256 of its SAM checkpoint")
    metadata = {
        "format": FORMAT,
        "name": name,
        "config": json.dumps(model.config.to_dict()),
        "threshold": repr(float(threshold)),
        "base_checkpoint": base_checkpoint or "",
        "base_sha256": base_sha256 or "",
        "deal_version": __version__,
        "extra": json.dumps(extra or {}),
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(detector_state_dict(model), str(tmp), metadata=metadata)
    return path


def read_detector_info(path: str | os.PathLike) -> DetectorInfo:
    """Reads only the metadata (no tensors)."""
    from safetensors import safe_open

    from deal.fileio import sha256_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"detector file not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as err:
        raise CheckpointError(f"{path}: not a safetensors detector file: {err}") from err
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a deal detector file (format {meta.get('format')!r}, expected {FORMAT!r})")
    return DetectorInfo(
        name=meta["name"],
        config=ModelConfig.from_dict(json.loads(meta["config"])),
        threshold=float(meta["threshold"]),
        base_checkpoint=meta.get("base_checkpoint") or None,
        base_sha256=meta.get("base_sha256") or None,
        deal_version=meta.get("deal_version", ""),
        extra=json.loads(meta.get("extra") or "{}"),
        path=str(path),
        sha256=sha256_file(path),
    )


def load_detector(
    path: str | os.PathLike,
    *,
    sam_checkpoint: str | os.PathLike | None = None,
    force: bool = False,
) -> tuple[MFPT, DetectorInfo]:
    """Rebuilds the model of a detector file on the CPU, in eval mode.

    A frozen-encoder detector needs its SAM checkpoint: `sam_checkpoint`, or the file named in its
    metadata found in the weights folders (deal.hub). A checkpoint whose sha256 differs from the one
    the detector was trained on is an error unless force=True.
    """
    from safetensors.torch import load_file

    from deal.fileio import sha256_file
    from deal.hub import find_weights

    info = read_detector_info(path)
    model = MFPT(info.config)
    tensors = load_file(str(path))
    if model.encoder_frozen:
        if sam_checkpoint is None:
            found = find_weights(info.base_checkpoint) if info.base_checkpoint else None
            if found is None:
                hint = ""
                from deal.hub import SAM_CHECKPOINTS

                size = {v: k for k, v in SAM_CHECKPOINTS.items()}.get(info.base_checkpoint or "")
                if size:
                    hint = f"; run: deal weights fetch {size}"
                raise FileNotFoundError(
                    f"{path}: needs the SAM checkpoint {info.base_checkpoint!r} it was trained on{hint}"
                )
            sam_checkpoint = found
        sha = sha256_file(sam_checkpoint)
        if info.base_sha256 and sha != info.base_sha256 and not force:
            raise CheckpointError(
                f"{path}: trained on a SAM checkpoint with sha256 {info.base_sha256}, but {sam_checkpoint} has "
                f"sha256 {sha}; pass force=True (--force) to load it anyway"
            )
        load_sam_checkpoint(model, sam_checkpoint, sha256=sha)
    expected = set(detector_state_dict(model))
    missing, unexpected = sorted(expected - tensors.keys()), sorted(tensors.keys() - expected)
    if missing or unexpected:
        raise CheckpointError(f"{path}: tensors do not match its config: missing {missing[:10]}, unexpected {unexpected[:10]}")
    model.load_state_dict(tensors, strict=False)
    model.eval()
    return model, info
