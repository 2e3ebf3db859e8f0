"""Lightning checkpoint -> detector file (deal.modeling.detector_file), threshold calibrated on validation data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deal.data.dataset import LocalizationDataset
from deal.data.discover import discover_records
from deal.data.sample import Record
from deal.inference.detector import Detector, find_sam_checkpoint
from deal.metrics.image_score import image_score
from deal.modeling.config import ModelConfig
from deal.modeling.constants import DEFAULT_BATCH_SIZE
from deal.modeling.detector_file import DetectorInfo, load_detector, save_detector
from deal.modeling.mfpt import MFPT
from deal.training.calibration import DEFAULT_PRECISION, choose_image_thresholds, choose_threshold


def model_from_lightning_checkpoint(
    path: str | os.PathLike, sam_checkpoint: str | os.PathLike | None = None
) -> tuple[MFPT, dict[str, Any]]:
    """Rebuilds MFPT from a Lightning checkpoint (loaded with weights_only=True). Returns (model, checkpoint).

    A checkpoint that leaves out the frozen encoder (deal.training.module) gets it from `sam_checkpoint`,
    default the file recorded in the checkpoint (else its name in the weights folders, deal.hub); its sha256
    must be the recorded one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    try:
        config = ModelConfig.from_dict(ckpt["hyper_parameters"]["config"])
        state = {k[len("model.") :]: v for k, v in ckpt["state_dict"].items() if k.startswith("model.")}
    except KeyError as err:
        raise ValueError(f"{path}: not a deal training checkpoint (missing {err})") from err
    model = MFPT(config)
    meta = ckpt.get("deal") or {}
    if meta.get("omitted"):
        from deal.fileio import sha256_file
        from deal.modeling.sam_checkpoint import CheckpointError, load_sam_checkpoint

        sam_checkpoint = sam_checkpoint or meta.get("base_checkpoint")
        if sam_checkpoint and not Path(sam_checkpoint).is_file():  # recorded relative to the training's folder
            from deal.hub import find_weights

            sam_checkpoint = find_weights(Path(sam_checkpoint).name) or sam_checkpoint
        if not sam_checkpoint or not Path(sam_checkpoint).is_file():
            raise FileNotFoundError(
                f"{path}: needs the SAM checkpoint it was trained on ({meta.get('base_checkpoint')}) for its frozen encoder"
            )
        sha = sha256_file(sam_checkpoint)
        if sha != meta.get("base_sha256"):
            raise CheckpointError(
                f"{path}: trained on a SAM checkpoint with sha256 {meta.get('base_sha256')}, but {sam_checkpoint} "
                f"has sha256 {sha}"
            )
        load_sam_checkpoint(model, sam_checkpoint, sha256=sha)
        prefix = meta["omitted"][len("model.") :]
        state.update({k: v for k, v in model.state_dict().items() if k.startswith(prefix)})
    model.load_state_dict(state, strict=True)
    return model.eval(), ckpt


def model_from_detector_file(
    path: str | os.PathLike, sam_checkpoint: str | os.PathLike | None = None
) -> tuple[MFPT, dict[str, Any]]:
    """A detector file's model, and what export_checkpoint reads of a Lightning checkpoint (its training step
    and SAM base), so that a detector can be recalibrated without its training checkpoint."""
    if sam_checkpoint is None:
        sam_checkpoint = find_sam_checkpoint(path)
    model, info = load_detector(path, sam_checkpoint=sam_checkpoint)
    ckpt = {
        "global_step": info.global_step,
        "deal": {"base_checkpoint": info.base_checkpoint, "base_sha256": info.base_sha256},
    }
    return model, ckpt


def calibration_heatmaps(
    detector: Detector, records: list[Record], batch_size: int = DEFAULT_BATCH_SIZE
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(probability map, target mask) of each record, predicted through the deployment path: the
    Detector's own preprocessing, tiling, batching and dtype (bf16 on CUDA), as `deal detect` runs it."""
    dataset = LocalizationDataset(records)
    for start in range(0, len(records), batch_size):
        indices = range(start, min(start + batch_size, len(records)))
        chunk = [dataset[i] for i in indices]
        sources = [str(records[i].image) for i in indices]
        maps = detector.heatmaps([sample["image"] for sample in chunk], batch_size=batch_size, sources=sources)
        yield from ((m, sample["mask"]) for m, sample in zip(maps, chunk))


def calibration_records(paths: list[str], split: str | None, limit: int, *, needs_edits: bool) -> list[Record]:
    """The validation records calibration runs on (at most `limit`; 0: all). ValueError, one sentence naming
    the data, when there is nothing to calibrate on: no image, or (needs_edits: the pixel threshold is to
    be calibrated) no edited image, whose masks the threshold is chosen on."""
    records: list[Record] = []
    for p in paths:
        records += discover_records(p, split or None)
    if limit:
        records = records[:limit]
    where = f"{', '.join(str(p) for p in paths)}" + (f" (split {split!r})" if split else "")
    if not records:
        raise ValueError(f"{where}: no validation images to calibrate on")
    if needs_edits and not any(r.label for r in records):
        raise ValueError(
            f"{where}: the {len(records)} validation images hold no edited image, so the pixel threshold "
            "cannot be calibrated; pass validation data with edits, or --threshold"
        )
    return records


def export_checkpoint(
    checkpoint: str | os.PathLike,
    out: str | os.PathLike,
    *,
    name: str | None = None,
    val: list[str] | None = None,
    val_split: str | None = "val",
    threshold: float | None = None,
    precision: float = DEFAULT_PRECISION,
    limit: int = 0,
    device: str = "cpu",
    batch_size: int = DEFAULT_BATCH_SIZE,
    sam_checkpoint: str | os.PathLike | None = None,
    extra: dict[str, Any] | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Writes the detector file. The pixel threshold is `threshold` if given, else calibrated on `val`
    (default: the validation data recorded in the checkpoint); the verdict's two image thresholds are
    calibrated on the same images at `precision` (deal.training.calibration) when both classes occur.
    `sam_checkpoint`: the frozen encoder's SAM file when the one recorded in the checkpoint has moved."""
    # Given validation data is checked before the model loads; the checkpoint's own once it is read.
    records = calibration_records(val, val_split, limit, needs_edits=threshold is None) if val else None
    if Path(checkpoint).suffix == ".safetensors":  # a detector file, recalibrated (e.g. on new validation data)
        model, ckpt = model_from_detector_file(checkpoint, sam_checkpoint)
    else:
        model, ckpt = model_from_lightning_checkpoint(checkpoint, sam_checkpoint)
    info: dict[str, Any] = {"checkpoint": Path(checkpoint).name}
    fields: dict[str, Any] = {}  # the detector file's named fields (deal.modeling.detector_file.DetectorInfo)
    data_hp = ckpt.get("datamodule_hyper_parameters", {})
    paths = val or data_hp.get("val") or data_hp.get("train")
    if not paths and threshold is None:
        raise ValueError("no validation data to calibrate the threshold on: pass val paths or a threshold")
    if paths:
        split = val_split if val else data_hp.get("val_split", val_split)
        if records is None:
            records = calibration_records(paths, split, limit, needs_edits=threshold is None)
        detector = Detector(model, DetectorInfo(name="calibration", config=model.config), device)
        scores: list[float] = []

        def pairs() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:  # streamed; image scores on the side
            for heatmap, mask in calibration_heatmaps(detector, records, batch_size):
                scores.append(image_score(heatmap))
                yield torch.from_numpy(heatmap), torch.from_numpy(mask)

        if any(r.label for r in records):
            calib = choose_threshold(pairs())
        else:  # a threshold was given (calibration_records checked): the image scores only
            calib = {}
            for _ in pairs():
                pass
        if threshold is None:
            threshold = calib["threshold"]
        image_calib = choose_image_thresholds(scores, [r.label for r in records], precision) or {}
        info["calibration"] = {
            **calib, **image_calib, "data": [str(p) for p in paths], "split": split,
            "path": f"Detector.heatmaps on {detector.device.type} ({detector.precision}), batch {batch_size}",
        }
        if image_calib:
            fields["image_thresholds"] = tuple(image_calib["image_thresholds"])
            fields["verdict_precision"] = precision
            fields["precision_reached"] = image_calib["precision_reached"]
    meta = ckpt.get("deal", {})
    path = save_detector(
        out,
        model,
        name=name or Path(out).stem,
        threshold=threshold,
        base_checkpoint=Path(meta["base_checkpoint"]).name if meta.get("base_checkpoint") else None,
        base_sha256=meta.get("base_sha256"),
        global_step=ckpt.get("global_step"),
        calibration=info.get("calibration"),
        extra={"checkpoint": info["checkpoint"], **(extra or {})},
        **fields,
    )
    return path, info
