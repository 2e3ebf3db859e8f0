"""A trained detector as one small file: its tensors in safetensors, its config and provenance as metadata.

With a frozen, pretrained encoder only the trained parts are stored (prompts, decoder); the encoder
comes from the SAM checkpoint named in the metadata, whose sha256 must match at load time (unless
forced). A detector whose encoder was trained stores every tensor and needs no SAM checkpoint.

The metadata (all strings, as safetensors requires) is the DetectorInfo schema, format FORMAT: name,
config (JSON of ModelConfig: encoder, prompts, the input policy and its parameters), threshold (the
pixel threshold of the mask), image_threshold_low and image_threshold_high (the verdict's), verdict_precision
and precision_reached (the calibration's target and whether it was met), base_checkpoint, base_sha256,
deal_version, global_step, calibration (JSON: what calibration measured, provenance) and extra (JSON,
anything else). DetectorInfo.validate is the one check of their ranges. Files of an older format are read
through upgrade_metadata.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from deal.modeling.config import ModelConfig
from deal.modeling.detector_format import FORMAT, FORMAT_1, detector_file_problem
from deal.modeling.mfpt import MFPT
from deal.modeling.sam_checkpoint import CheckpointError, load_sam_checkpoint

ENCODER_PREFIX = "image_encoder."


@dataclass
class DetectorInfo:
    """What a detector file says about itself (the file's schema; see the module docstring).

    image_thresholds: the verdict's (low, high) on the image score; None: the pixel threshold for both
    (a file calibrated without both classes). verdict_precision / precision_reached: None when not
    calibrated. path, sha256: where it was read from (not stored).
    """

    name: str
    config: ModelConfig
    threshold: float = 0.5
    image_thresholds: tuple[float, float] | None = None
    verdict_precision: float | None = None
    precision_reached: bool | None = None
    base_checkpoint: str | None = None
    base_sha256: str | None = None
    deal_version: str = ""
    global_step: int | None = None
    calibration: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    path: str | None = None
    sha256: str | None = None

    def __post_init__(self) -> None:
        if self.image_thresholds is not None:
            self.image_thresholds = (float(self.image_thresholds[0]), float(self.image_thresholds[1]))
        self.validate()

    @property
    def input_policy(self) -> dict[str, Any]:
        """The input policy and its parameters (from the config)."""
        return {
            "name": self.config.input_policy,
            "image_size": self.config.image_size,
            "patch_size": self.config.spec.patch_size,
        }

    @property
    def verdict_thresholds(self) -> tuple[float, float]:
        """(low, high) of the verdict: image_thresholds, else the pixel threshold for both."""
        return self.image_thresholds if self.image_thresholds is not None else (self.threshold, self.threshold)

    def validate(self) -> None:
        """ValueError naming the field unless every value is in range (the one check of a detector's
        thresholds and calibration fields)."""
        if not self.name:
            raise ValueError("name must not be empty")
        if not (isinstance(self.threshold, (int, float)) and 0.0 <= self.threshold <= 1.0):
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")
        if self.image_thresholds is not None:
            low, high = self.image_thresholds
            if not 0.0 <= low <= high <= 1.0:
                raise ValueError(
                    f"image thresholds must satisfy 0 <= low <= high <= 1, got low={low}, high={high}"
                )
        if self.verdict_precision is not None and not 0.5 <= self.verdict_precision <= 1.0:
            raise ValueError(f"verdict_precision must be in [0.5, 1], got {self.verdict_precision}")
        if self.global_step is not None and self.global_step < 0:
            raise ValueError(f"global_step must be >= 0, got {self.global_step}")

    def metadata(self) -> dict[str, str]:
        """The file's metadata strings (format FORMAT)."""

        def opt(value: Any) -> str:
            return "" if value is None else json.dumps(value)

        low, high = self.image_thresholds if self.image_thresholds is not None else (None, None)
        return {
            "format": FORMAT,
            "name": self.name,
            "config": json.dumps(stored_config(self.config)),
            "threshold": repr(float(self.threshold)),
            "image_threshold_low": opt(low),
            "image_threshold_high": opt(high),
            "verdict_precision": opt(self.verdict_precision),
            "precision_reached": opt(self.precision_reached),
            "base_checkpoint": self.base_checkpoint or "",
            "base_sha256": self.base_sha256 or "",
            "deal_version": self.deal_version,
            "global_step": opt(self.global_step),
            "calibration": json.dumps(self.calibration),
            "extra": json.dumps(self.extra),
        }

    @classmethod
    def from_metadata(cls, meta: dict[str, str], **where: Any) -> DetectorInfo:
        """Parses metadata of format FORMAT (older formats: upgrade_metadata first)."""

        def opt(key: str) -> Any:
            return json.loads(meta[key]) if meta.get(key) else None

        low, high = opt("image_threshold_low"), opt("image_threshold_high")
        if (low is None) != (high is None):
            raise ValueError("image_threshold_low and image_threshold_high must be given together")
        return cls(
            name=meta["name"],
            config=ModelConfig.from_dict(json.loads(meta["config"])),
            threshold=float(meta["threshold"]),
            image_thresholds=None if low is None else (low, high),
            verdict_precision=opt("verdict_precision"),
            precision_reached=opt("precision_reached"),
            base_checkpoint=meta.get("base_checkpoint") or None,
            base_sha256=meta.get("base_sha256") or None,
            deal_version=meta.get("deal_version", ""),
            global_step=opt("global_step"),
            calibration=json.loads(meta.get("calibration") or "{}"),
            extra=json.loads(meta.get("extra") or "{}"),
            **where,
        )


def upgrade_metadata(meta: dict[str, str]) -> dict[str, str]:
    """Metadata of any earlier format -> format FORMAT (the one upgrade of older files).

    deal-detector/1 kept the verdict in `extra`: image_thresholds [low, high], or before the
    two-threshold verdict one image_threshold (low = high); verdict_precision, global_step and calibration
    (whose precision_reached moves up) lived there too; a file with none of them gets no image thresholds.
    """
    version = meta.get("format")
    if version == FORMAT:
        return meta
    if version != FORMAT_1:
        raise CheckpointError(f"not a deal detector file (format {version!r}, expected {FORMAT!r})")
    extra = dict(json.loads(meta.get("extra") or "{}"))
    calibration = dict(extra.pop("calibration", None) or {})
    pair = extra.pop("image_thresholds", None)
    single = extra.pop("image_threshold", None)
    if pair is None and single is not None:
        pair = [single, single]
    precision = extra.pop("verdict_precision", None)
    reached = calibration.get("precision_reached")
    step = extra.pop("global_step", None)

    def opt(value: Any) -> str:
        return "" if value is None else json.dumps(value)

    return {
        **{k: v for k, v in meta.items() if k != "extra"},
        "format": FORMAT,
        "image_threshold_low": opt(None if pair is None else float(pair[0])),
        "image_threshold_high": opt(None if pair is None else float(pair[1])),
        "verdict_precision": opt(precision),
        "precision_reached": opt(reached),
        "global_step": opt(step),
        "calibration": json.dumps(calibration),
        "extra": json.dumps(extra),
    }


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
    image_thresholds: tuple[float, float] | None = None,
    verdict_precision: float | None = None,
    precision_reached: bool | None = None,
    base_checkpoint: str | None = None,
    base_sha256: str | None = None,
    global_step: int | None = None,
    calibration: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Writes the detector file atomically (the fields of DetectorInfo, validated). A frozen-encoder
    detector must name its base checkpoint's sha256."""
    from safetensors.torch import save_file

    from deal.fileio import atomic_path
    from deal.version import __version__

    if model.encoder_frozen and not base_sha256:
        raise ValueError("a detector with a frozen pretrained encoder must record base_sha256 of its SAM checkpoint")
    info = DetectorInfo(
        name=name,
        config=model.config,
        threshold=float(threshold),
        image_thresholds=image_thresholds,
        verdict_precision=verdict_precision,
        precision_reached=precision_reached,
        base_checkpoint=base_checkpoint,
        base_sha256=base_sha256,
        deal_version=__version__,
        global_step=global_step,
        calibration=_json_safe(calibration or {}),
        extra=extra or {},
    )
    path = Path(path)
    with atomic_path(path) as tmp:
        save_file(detector_state_dict(model), str(tmp), metadata=info.metadata())
    return path


def _json_safe(value: Any) -> Any:
    """NaN (e.g. a false-alarm area without authentic images) as null: the metadata is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def stored_config(config: ModelConfig) -> dict[str, Any]:
    """The model config as stored: without `attention`, a runtime choice of how the same function is
    computed (a detector trained with FlexAttention loads with "auto", SDPA on the CPU and for inference)."""
    d = config.to_dict()
    d.pop("attention", None)
    return d


def read_detector_info(path: str | os.PathLike, *, with_sha256: bool = True) -> DetectorInfo:
    """Reads only the metadata (no tensors); the file's sha256 too unless with_sha256=False."""
    from safetensors import safe_open

    from deal.fileio import sha256_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"detector file not found: {path}")
    problem = detector_file_problem(path)  # the header, read as the command line's usage check reads it
    if problem:
        raise CheckpointError(f"{path}: {problem}")
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    try:
        meta = upgrade_metadata(meta)
        return DetectorInfo.from_metadata(
            meta, path=str(path), sha256=sha256_file(path) if with_sha256 else None
        )
    except CheckpointError as err:
        raise CheckpointError(f"{path}: {err}") from err
    except KeyError as err:
        raise CheckpointError(f"{path}: detector metadata lacks the {err.args[0]!r} entry") from err
    except (TypeError, ValueError) as err:  # unknown config keys, a bad value or range, broken JSON
        raise CheckpointError(f"{path}: detector metadata is invalid: {err}") from err


def load_detector(
    path: str | os.PathLike,
    *,
    sam_checkpoint: str | os.PathLike | None = None,
    force: bool = False,
) -> tuple[MFPT, DetectorInfo]:
    """Rebuilds the model of a detector file on the CPU, in eval mode.

    A frozen-encoder detector needs `sam_checkpoint`, the SAM checkpoint it was trained on (finding that
    file in the weights folders is Detector.load's job, with deal.hub). A checkpoint whose sha256 differs
    from the one the detector was trained on is an error unless force=True.
    """
    from safetensors.torch import load_file

    from deal.fileio import sha256_file

    info = read_detector_info(path)
    model = MFPT(info.config)
    tensors = load_file(str(path))
    if model.encoder_frozen:
        if sam_checkpoint is None:
            raise FileNotFoundError(
                f"{path}: needs the SAM checkpoint {info.base_checkpoint!r} it was trained on (sam_checkpoint)"
            )
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
