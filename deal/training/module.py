"""The LightningModule: MFPT + loss + AdamW over the trainable parameters + warmup/cosine schedule.

The model is a plain nn.Module (deal.modeling.MFPT); this system only trains and validates it.

Checkpoints hold what was trained: the trainable tensors (and the small frozen ones outside the encoder),
optimizer and schedule state, the model config and the SAM checkpoint's sha256, never the frozen encoder
(375 MB for ViT-B). Resuming (--ckpt_path) takes the encoder from `sam_checkpoint`, and refuses one whose
sha256 differs from the one the run was trained on.
"""

from __future__ import annotations

import logging
from typing import Any

import lightning as L
import numpy as np
import torch

from deal.metrics.convention import DEFAULT_CONVENTION
from deal.metrics.keys import CONTROL_KEYS
from deal.metrics.localization import LocalizationMetrics
from deal.modeling.config import ModelConfig
from deal.modeling.constants import DEFAULT_BATCH_SIZE
from deal.modeling.input_pipeline import InputPipeline, Piece
from deal.modeling.input_policy import Placement, prepare_masks, resize_map
from deal.modeling.mfpt import MFPT
from deal.modeling.sam_checkpoint import CheckpointError, load_sam_checkpoint
from deal.training.losses import segmentation_loss
from deal.training.schedule import warmup_cosine

log = logging.getLogger(__name__)
ENCODER_KEYS = "model.image_encoder."  # state-dict prefix of the encoder


class MFPTModule(L.LightningModule):
    """Trains MFPT.

    Args:
        config: the model (encoder size, prompts, input policy).
        sam_checkpoint: official SAM checkpoint for the frozen encoder and the decoder's initial weights
            (None: random init, only sensible with train_encoder: true).
        loss: "bce_iou" (BCE-with-logits + soft IoU, SAM-Adapter's), "bce_dice" or "bce".
        pos_weight: BCE weight of edited pixels.
        lr: AdamW peak learning rate (SAM-Adapter: 2e-4).
        weight_decay: AdamW weight decay.
        warmup_steps: linear warmup, in optimizer steps.
        min_lr: cosine floor (SAM-Adapter: 1e-7).
        threshold: pixel threshold of the validation metrics.
        compile: torch.compile the model (GPU). Compilation is lazy: a failure at the first forward (no
            compiler toolchain, an unsupported op) is logged once and training continues eager.
        init_detector: a detector file (``.safetensors``, e.g. the bundled one) whose weights initialize the
            model (fine-tuning); its config must equal ``config``.
    """

    def __init__(
        self,
        config: ModelConfig = ModelConfig(),
        sam_checkpoint: str | None = None,
        loss: str = "bce_iou",
        pos_weight: float = 1.0,
        lr: float = 2e-4,
        weight_decay: float = 0.01,
        warmup_steps: int = 250,
        min_lr: float = 1e-7,
        threshold: float = 0.5,
        compile: bool = False,
        init_detector: str | None = None,
    ) -> None:
        super().__init__()
        if isinstance(config, dict):
            config = ModelConfig.from_dict(config)
        # Hyper-parameters are stored as plain types so checkpoints load with weights_only=True.
        self.save_hyperparameters(ignore=["config"])
        self.hparams["config"] = config.to_dict()
        self.config = config
        self.model = MFPT(config)
        self.base_sha256: str | None = None
        self.base_checkpoint = sam_checkpoint
        if sam_checkpoint:
            self.base_sha256 = load_sam_checkpoint(self.model, sam_checkpoint).sha256
            self.hparams["base_sha256"] = self.base_sha256
        elif not config.train_encoder:
            import warnings

            warnings.warn("no sam_checkpoint: the frozen encoder keeps its random weights", stacklevel=2)
        if init_detector:
            _init_from_detector(self.model, config, init_detector)
        # Not a registered submodule (its weights are self.model's; the state dict keeps one copy).
        self.__dict__["forward_model"] = CompileOrEager(self.model) if compile else self.model
        # deal benchmark's convention (exact best F1 and AUC over every distinct map value) at the validation
        # threshold, without intervals: val/pixel_auc and val/pixel_f1_best are deal benchmark's numbers.
        self.val_metrics = LocalizationMetrics(convention=DEFAULT_CONVENTION.replace(threshold=threshold, bootstrap=0))
        # The same metric of the predict-everything map (every pixel edited) on the same images: the floor
        # a run must beat to have learned anything.
        self.val_floor = LocalizationMetrics(threshold=threshold, num_thresholds=2)
        # The model's input pipeline, as `deal detect` runs it (tiles larger images, same batches).
        self.pipeline = InputPipeline(config)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.forward_model(images)

    def preprocess(self, images: Any) -> tuple[torch.Tensor, list]:
        """uint8 training crops -> the model's input, through the model's input pipeline (as Detector,
        validation and calibration call it)."""
        return self.pipeline.whole_batch(images, self.device)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        images, placements = self.preprocess(batch["image"])
        targets = prepare_masks(batch["mask"], placements, tuple(images.shape[-2:]))
        logits = self(images)
        loss = segmentation_loss(logits, targets, self.hparams.loss, self.hparams.pos_weight)
        self.log("train/loss", loss, prog_bar=True, batch_size=images.shape[0])
        return loss

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        """Each image run as `deal detect` runs it: the input pipeline's plan (whole, tiled or resized), its
        batches of model inputs and its merge into one full-resolution heatmap, scored at the original size.
        The loss is that of the model inputs (tiles of a large image against the tiles of its mask). Where the
        batch carries an edited image's unedited original, its map is the objectness control (control_maps)."""
        images = [np.ascontiguousarray(torch.as_tensor(img).cpu().numpy()) for img in batch["image"]]
        masks = [torch.as_tensor(m) for m in batch["mask"]]

        def loss_of(pieces: list[Piece], placements: list[Placement], logits: torch.Tensor) -> None:
            targets = self.pipeline.targets(masks, pieces, placements, tuple(logits.shape[-2:])).to(logits.device)
            loss = segmentation_loss(logits, targets, self.hparams.loss, self.hparams.pos_weight)
            self.log("val/loss", loss, batch_size=len(pieces), sync_dist=True)

        maps = self.pipeline.heatmaps(
            images, self, batch_size=DEFAULT_BATCH_SIZE, device=self.device, on_batch=loss_of
        )
        probs = [torch.from_numpy(m).to(self.device) for m in maps]
        targets = [m.to(self.device) for m in masks]
        self.val_metrics.update(probs, targets, batch["label"], controls=self.control_maps(batch, masks))
        self.val_floor.update([torch.ones_like(p) for p in probs], targets, batch["label"])

    def control_maps(self, batch: dict[str, Any], masks: list[torch.Tensor]) -> list[torch.Tensor | None]:
        """The objectness control of a validation batch: the map of each edited image's unedited original
        (batch["original"], where the dataset has one), run through the same input pipeline as the edit, at
        the mask's size (deal.modeling.input_policy.resize_map, as deal benchmark); None elsewhere."""
        originals = batch.get("original") or [None] * len(masks)
        labels = [int(v) for v in batch["label"]]
        which = [i for i, o in enumerate(originals) if o is not None and labels[i] == 1]
        controls: list[torch.Tensor | None] = [None] * len(masks)
        if not which:
            return controls
        images = [np.ascontiguousarray(torch.as_tensor(originals[i]).cpu().numpy()) for i in which]
        maps = self.pipeline.heatmaps(images, self, batch_size=DEFAULT_BATCH_SIZE, device=self.device)
        for i, m in zip(which, maps):
            controls[i] = resize_map(torch.from_numpy(m), tuple(masks[i].shape[-2:])).to(self.device)
        return controls

    def on_validation_epoch_end(self) -> None:
        values = self.val_metrics.compute()
        self.val_metrics.reset()
        floor = float(self.val_floor.compute()["pixel_f1"])
        self.val_floor.reset()
        # Without an original in the validation set the control's keys are undefined (NaN): not logged.
        skip = () if values.get("n_control") else CONTROL_KEYS
        scalars = {f"val/{k}": float(v) for k, v in values.items() if isinstance(v, (int, float)) and k not in skip}
        scalars["val/pixel_f1_floor"] = floor
        self.log_dict(scalars, sync_dist=False)  # already reduced across processes by torchmetrics
        if not self.trainer.sanity_checking:  # printed by rank 0, above the progress bar
            self.print(
                f"step {self.global_step}: validation pixel_f1 {scalars['val/pixel_f1']:.3f} "
                f"(predict-everything floor {floor:.3f} on the same images)"
            )

    def configure_optimizers(self) -> dict[str, Any]:
        params = list(self.model.trainable_parameters())  # never the frozen encoder
        optimizer = torch.optim.AdamW(params, lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup = min(self.hparams.warmup_steps, total // 2)
        scheduler = warmup_cosine(optimizer, warmup_steps=warmup, total_steps=total, min_lr=self.hparams.min_lr)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    # --- checkpoints -------------------------------------------------------------------------------
    def restorable_keys(self) -> list[str]:
        """State-dict keys a checkpoint leaves out: the frozen encoder, when a SAM checkpoint restores it."""
        if self.model.encoder_frozen and self.base_sha256:
            return [k for k in self.state_dict() if k.startswith(ENCODER_KEYS)]
        return []

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        omitted = set(self.restorable_keys())
        state = checkpoint["state_dict"]
        checkpoint["state_dict"] = {k: v for k, v in state.items() if k not in omitted}
        checkpoint["deal"] = {
            "base_checkpoint": self.base_checkpoint,
            "base_sha256": self.base_sha256,
            "omitted": ENCODER_KEYS if omitted else None,  # restored from base_checkpoint on load
            "omitted_keys": len(omitted),
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Puts the frozen encoder a slim checkpoint left out back in from this module's SAM checkpoint
        (after checking its sha256), so that Lightning's strict loading then checks every other key."""
        state = checkpoint["state_dict"]
        absent = set(self.state_dict()) - state.keys()
        if not absent:
            return
        meta = checkpoint.get("deal") or {}
        restorable = set(self.restorable_keys())
        if not restorable and meta.get("omitted"):
            raise CheckpointError(
                f"the checkpoint leaves out the frozen encoder: set model.sam_checkpoint to the SAM checkpoint it "
                f"was trained on ({meta.get('base_checkpoint')}, sha256 {meta.get('base_sha256')})"
            )
        if absent - restorable:
            return  # not ours to fill: Lightning's strict loading names the missing keys
        if meta.get("base_sha256") != self.base_sha256:
            raise CheckpointError(
                f"the checkpoint was trained on the SAM checkpoint {meta.get('base_checkpoint')} (sha256 "
                f"{meta.get('base_sha256')}), but model.sam_checkpoint {self.base_checkpoint} has sha256 "
                f"{self.base_sha256}; resume with the same SAM checkpoint"
            )
        own = self.state_dict()
        for key in absent:
            state[key] = own[key]


class CompileOrEager:
    """Calls torch.compile(model) until it fails, then `model` itself. Compilation happens at the first
    call, not at torch.compile: that is where a failure surfaces, is logged once, and eager takes over."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model
        self.error: str | None = None
        try:
            self.compiled: Any = torch.compile(model)
        except Exception as err:  # unsupported platform / Python
            self._fall_back(err)

    def _fall_back(self, err: Exception) -> None:
        self.compiled = None
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        self.error = f"{type(err).__name__}: {' '.join(lines[:2])}"
        log.warning("torch.compile failed, training continues eager: %s", self.error)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.compiled is not None:
            try:
                return self.compiled(*args, **kwargs)
            except Exception as err:  # compilation errors surface here, at the first forward
                self._fall_back(err)
        return self.model(*args, **kwargs)


# Config keys a fine-tune may add to a detector file's config: what they add starts at zero (the same function).
GROWABLE_KEYS: dict[str, tuple[str, ...]] = {"cue_smoothing": ("cue_residual.smoothed_scale",)}


def _init_from_detector(model: MFPT, config: ModelConfig, path: str) -> None:
    """Copy a detector file's weights into ``model`` (strict); the file's config must be ``config``, except that
    the training config may add smoothed copies of the cue (``cue_smoothing``, weights starting at zero: the
    initialized model computes the detector's function)."""
    from deal.modeling.detector_file import load_detector, stored_config

    source, info = load_detector(path)
    theirs, ours = stored_config(info.config), stored_config(config)
    grown = [k for k in GROWABLE_KEYS if not theirs.get(k) and ours.get(k) and theirs.get("cue_residual")]
    if {k: v for k, v in theirs.items() if k not in grown} != {k: v for k, v in ours.items() if k not in grown}:
        raise ValueError(f"{path}: its model config differs from the training config; cannot initialize from it")
    missing, unexpected = model.load_state_dict(source.state_dict(), strict=False)
    allowed = {key for k in grown for key in GROWABLE_KEYS[k]}
    if unexpected or set(missing) - allowed:
        raise ValueError(f"{path}: weights do not match the model (missing {missing}, unexpected {unexpected})")
