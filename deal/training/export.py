"""Lightning checkpoint -> detector file (deal.modeling.detector_file), threshold calibrated on validation data."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from deal.data.dataset import LocalizationDataset
from deal.data.discover import discover_records
from deal.metrics.image_score import image_score
from deal.modeling.config import ModelConfig
from deal.modeling.detector_file import save_detector
from deal.modeling.input_policy import prepare_batch, restore
from deal.modeling.mfpt import MFPT
from deal.training.calibration import choose_image_threshold, choose_threshold


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


@torch.inference_mode()
def predict_records(model: MFPT, records, device: str = "cpu"):
    """Yields (probability map, target mask) at each record's original size."""
    model.to(device)
    for sample in LocalizationDataset(records):
        batch, placements = prepare_batch(
            [sample["image"]], policy=model.config.input_policy, image_size=model.config.image_size,
            patch_size=model.config.spec.patch_size, device=device,
        )
        prob = restore(model(batch), placements)[0].sigmoid().cpu()
        yield prob, torch.from_numpy(sample["mask"])


def export_checkpoint(
    checkpoint: str | os.PathLike,
    out: str | os.PathLike,
    *,
    name: str | None = None,
    val: list[str] | None = None,
    val_split: str | None = "val",
    threshold: float | None = None,
    limit: int = 0,
    device: str = "cpu",
    extra: dict[str, Any] | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Writes the detector file. The threshold is `threshold` if given, else calibrated on `val`
    (default: the validation data recorded in the checkpoint)."""
    model, ckpt = model_from_lightning_checkpoint(checkpoint)
    info: dict[str, Any] = {"checkpoint": str(checkpoint), "global_step": ckpt.get("global_step")}
    if threshold is None:
        data_hp = ckpt.get("datamodule_hyper_parameters", {})
        paths = val or data_hp.get("val") or data_hp.get("train")
        if not paths:
            raise ValueError("no validation data to calibrate the threshold on: pass val paths or a threshold")
        split = val_split if val else data_hp.get("val_split", val_split)
        records = []
        for p in paths:
            records += discover_records(p, split or None)
        if limit:
            records = records[:limit]
        scores: list[float] = []

        def pairs():  # the pixel pairs for the threshold; the image scores on the side
            for prob, target in predict_records(model, records, device):
                scores.append(image_score(prob.numpy()))
                yield prob, target

        calib = choose_threshold(pairs())
        threshold = calib["threshold"]
        image_calib = choose_image_threshold(scores, [r.label for r in records]) or {}
        info["calibration"] = {**calib, **image_calib, "data": [str(p) for p in paths], "split": split}
        if image_calib:
            info["image_threshold"] = image_calib["image_threshold"]
    meta = ckpt.get("deal", {})
    path = save_detector(
        out,
        model,
        name=name or Path(out).stem,
        threshold=threshold,
        base_checkpoint=Path(meta["base_checkpoint"]).name if meta.get("base_checkpoint") else None,
        base_sha256=meta.get("base_sha256"),
        extra={**info, **(extra or {})},
    )
    return path, info
