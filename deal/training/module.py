"""The LightningModule: MFPT + loss + AdamW over the trainable parameters + warmup/cosine schedule.

The model is a plain nn.Module (deal.modeling.MFPT); this system only trains and validates it.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import lightning as L
import torch

from deal.metrics.localization import LocalizationMetrics
from deal.modeling.config import ModelConfig
from deal.modeling.input_policy import sam_resized_hw
from deal.modeling.mfpt import MFPT
from deal.modeling.sam_checkpoint import load_sam_checkpoint
from deal.training.losses import segmentation_loss
from deal.training.schedule import warmup_cosine


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
        compile: torch.compile the model (GPU; falls back to eager when compilation is unavailable).
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
        self.__dict__["forward_model"] = _try_compile(self.model) if compile else self.model
        self.val_metrics = LocalizationMetrics(threshold=threshold, num_thresholds=256)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.forward_model(images)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        logits = self(batch["image"])
        loss = segmentation_loss(logits, batch["mask"], self.hparams.loss, self.hparams.pos_weight)
        self.log("train/loss", loss, prog_bar=True, batch_size=batch["image"].shape[0])
        return loss

    def _valid_hw(self, original: tuple[int, int], padded: tuple[int, int]) -> tuple[int, int]:
        if self.config.input_policy == "sam":
            h, w = sam_resized_hw(*original, self.config.image_size)
        else:
            h, w = original
        return min(h, padded[0]), min(w, padded[1])

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        logits = self(batch["image"])
        loss = segmentation_loss(logits, batch["mask"], self.hparams.loss, self.hparams.pos_weight)
        self.log("val/loss", loss, batch_size=batch["image"].shape[0], sync_dist=True)
        probs = logits.float().sigmoid()
        padded = tuple(probs.shape[-2:])
        maps, targets = [], []
        for i, original in enumerate(batch["original_size"]):
            h, w = self._valid_hw(tuple(original), padded)  # metrics on the image's own pixels, not padding
            maps.append(probs[i, 0, :h, :w])
            targets.append(batch["mask"][i, 0, :h, :w])
        self.val_metrics.update(maps, targets, batch["label"])

    def on_validation_epoch_end(self) -> None:
        values = self.val_metrics.compute()
        self.val_metrics.reset()
        scalars = {f"val/{k}": float(v) for k, v in values.items() if isinstance(v, (int, float))}
        self.log_dict(scalars, sync_dist=False)  # already reduced across processes by torchmetrics

    def configure_optimizers(self) -> dict[str, Any]:
        params = list(self.model.trainable_parameters())  # never the frozen encoder
        optimizer = torch.optim.AdamW(params, lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup = min(self.hparams.warmup_steps, total // 2)
        schedule = partial(
            warmup_cosine, warmup_steps=warmup, total_steps=total, min_ratio=self.hparams.min_lr / self.hparams.lr
        )
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["deal"] = {"base_checkpoint": self.base_checkpoint, "base_sha256": self.base_sha256}


def _try_compile(model: torch.nn.Module) -> torch.nn.Module:
    try:
        return torch.compile(model)
    except Exception as err:  # no compiler toolchain, unsupported platform
        import warnings

        warnings.warn(f"torch.compile unavailable, running eager: {err}", stacklevel=2)
        return model


def _init_from_detector(model: MFPT, config: ModelConfig, path: str) -> None:
    """Copy a detector file's weights into ``model`` (strict); the file's config must be ``config``."""
    from deal.modeling.detector_file import load_detector

    source, info = load_detector(path)
    if info.config.to_dict() != config.to_dict():
        raise ValueError(f"{path}: its model config differs from the training config; cannot initialize from it")
    model.load_state_dict(source.state_dict(), strict=True)
