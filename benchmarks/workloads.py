"""The five rows of `deal benchmark-speed`, each a workload: a step to time and the images one step handles.

1 stock-encoder     segment-anything's ImageEncoderViT (same hyper-parameters), forward, inference mode
2 deal-encoder      this project's encoder alone: MFPT(...).image_encoder.forward_features (timm's SAM
                    ViT: SDPA attention with the decomposed rel-pos bias as its mask), inference mode
3 detector-forward  the full MFPT forward (prompts + encoder + decoder + upsampling), inference mode
4 train-step        one training step with the frozen encoder: forward, BCE + soft-IoU loss
                    (deal.training.losses.segmentation_loss), backward, AdamW over trainable_parameters();
                    measured once per --attention backend of the global blocks (sdpa: the rel-pos bias
                    as a dense SDPA mask; flex: FlexAttention's score_mod; auto: the model's default)
5 detect-folder     deal.runs.folder.run_detection over a folder of JPEGs with an in-memory
                    Detector: decoding, input policy, model, writing the default outputs (end to end)

A row is built once (its model on the device) by ROWS[n].build(context) and returns a factory
(batch, dtype) -> Workload; the factory is dropped when the row is done, so GPU peak memory counts only
the row's own model. Models have random weights: speed does not depend on values.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

DTYPES = ("fp32", "bf16")


@dataclass
class RowContext:
    """What every row is built from."""

    size: str
    image_size: int
    device: torch.device
    detect_images: int
    workdir: Path
    attention: str = "auto"  # the global blocks' attention backend (ModelConfig.attention)


@dataclass
class Workload:
    """One measurable step.

    target: what torch.compile wraps (a module or a bound method); step(fn) runs one step calling `fn`
    (target, or its compiled form) and is what gets timed; images: images one step handles; timer:
    "events" (CUDA events on a GPU) or "wall"; report(): row-specific fields, called after timing.
    """

    target: Callable[..., Any]
    step: Callable[[Callable[..., Any]], Any]
    images: int
    timer: str = "events"
    report: Callable[[], dict[str, Any]] | None = None


WorkloadFactory = Callable[[int, str], Workload]


@dataclass(frozen=True)
class RowSpec:
    number: int
    name: str
    build: Callable[[RowContext], WorkloadFactory]
    description: str = field(default="", compare=False)


def autocast(device: torch.device, dtype: str) -> torch.autocast:
    """bf16 autocast for "bf16"; for "fp32" an autocast switched off (which also switches off an autocast
    entered around it, such as the Detector's bf16 on CUDA)."""
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose from {list(DTYPES)}")
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=dtype == "bf16")


def random_images(batch: int, image_size: int, device: torch.device, seed: int = 0) -> torch.Tensor:
    """Bx3xSxS standard-normal input (values on the scale of SAM-normalized pixels)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, image_size, image_size, generator=g).to(device)


def tensors_sha256(tensors: Iterable[torch.Tensor]) -> str:
    """sha256 of the bytes of the tensors, in order (copied to the CPU)."""
    h = hashlib.sha256()
    for t in tensors:
        flat = t.detach().to("cpu").contiguous().reshape(-1)
        h.update(flat.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _model_config(ctx: RowContext, **overrides: Any) -> Any:
    from deal.modeling.config import ModelConfig

    return ModelConfig(encoder=ctx.size, image_size=ctx.image_size, attention=ctx.attention, **overrides)


def _inference(ctx: RowContext, module: nn.Module, target: Callable[..., Any]) -> WorkloadFactory:
    """A factory of forward passes of `target` on a random batch, in eval and inference mode."""
    module.to(ctx.device).eval()

    def make(batch: int, dtype: str) -> Workload:
        amp = autocast(ctx.device, dtype)  # validates dtype before anything runs
        x = random_images(batch, ctx.image_size, ctx.device)

        def step(fn: Callable[..., Any]) -> Any:
            with torch.inference_mode(), amp:
                return fn(x)

        return Workload(target=target, step=step, images=batch)

    return make


def build_stock_encoder_row(ctx: RowContext) -> WorkloadFactory:
    from deal_benchmarks.stock_encoder import build_stock_encoder

    encoder = build_stock_encoder(ctx.size, ctx.image_size)
    return _inference(ctx, encoder, encoder)


def build_deal_encoder_row(ctx: RowContext) -> WorkloadFactory:
    from deal.modeling.mfpt import MFPT

    encoder = MFPT(_model_config(ctx)).image_encoder
    return _inference(ctx, encoder, encoder.forward_features)


def build_detector_forward_row(ctx: RowContext) -> WorkloadFactory:
    from deal.modeling.mfpt import MFPT

    model = MFPT(_model_config(ctx))
    return _inference(ctx, model, model)


def build_train_step_row(ctx: RowContext) -> WorkloadFactory:
    from deal.modeling.mfpt import MFPT
    from deal.training.losses import segmentation_loss

    model = MFPT(_model_config(ctx, train_encoder=False)).to(ctx.device)
    model.train()  # MFPT.train keeps the frozen encoder in eval mode

    def make(batch: int, dtype: str) -> Workload:
        amp = autocast(ctx.device, dtype)
        x = random_images(batch, ctx.image_size, ctx.device)
        g = torch.Generator().manual_seed(1)
        mask = (
            (torch.rand(batch, 1, ctx.image_size, ctx.image_size, generator=g) > 0.5).float().to(ctx.device)
        )
        optimizer = torch.optim.AdamW(model.trainable_parameters(), lr=1e-4, weight_decay=0.01)
        encoder_before = tensors_sha256(model.image_encoder.state_dict().values())
        trainable_before = tensors_sha256(model.trainable_parameters())
        losses: list[float] = []

        def step(fn: Callable[..., Any]) -> torch.Tensor:
            optimizer.zero_grad(set_to_none=True)
            with amp:
                logits = fn(x)
            loss = segmentation_loss(logits, mask)
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
            return loss

        def report() -> dict[str, Any]:
            encoder_after = tensors_sha256(model.image_encoder.state_dict().values())
            trainable_after = tensors_sha256(model.trainable_parameters())
            return {
                "encoder_sha256_before": encoder_before,
                "encoder_sha256_after": encoder_after,
                "encoder_unchanged": encoder_before == encoder_after,
                "encoder_params_with_grad": sum(p.grad is not None for p in model.image_encoder.parameters()),
                "trainable_params": sum(p.numel() for p in model.trainable_parameters()),
                "trainable_changed": trainable_before != trainable_after,
                "steps": len(losses),
                "last_loss": float(losses[-1]) if losses else None,
                "attention_used": sorted(
                    {
                        b.attn.last_backend
                        for b in model.image_encoder.blocks
                        if hasattr(b.attn, "last_backend")
                    }
                    - {None}
                ),
            }

        return Workload(target=model, step=step, images=batch, report=report)

    return make


class _DetectModel(nn.Module):
    """What the Detector of row 5 holds: the MFPT model (for .to/.eval/.config), called through `runner`
    (the model or its compiled form) under the row's precision."""

    def __init__(self, model: nn.Module, device: torch.device) -> None:
        super().__init__()
        self.model = model
        self.config = model.config
        self.device_type = device.type
        self.dtype = "fp32"
        object.__setattr__(self, "runner", model)  # not registered: a compiled wrapper of self.model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        with autocast(torch.device(self.device_type), self.dtype):
            return self.runner(images)


def _first_error(results_jsonl: Path) -> str:
    import json

    try:
        for line in results_jsonl.read_text(encoding="utf-8").splitlines():
            error = json.loads(line).get("error")
            if error:
                return str(error)
    except (OSError, ValueError):
        pass
    return f"see {results_jsonl}"


def build_detect_folder_row(ctx: RowContext) -> WorkloadFactory:
    from deal_benchmarks.synthetic_jpegs import write_synthetic_jpegs

    from deal.inference.detector import Detector
    from deal.modeling.mfpt import MFPT
    from deal.report.outputs import DEFAULT_SAVE
    from deal.runs.folder import run_detection

    folder = ctx.workdir / "jpegs"
    paths = write_synthetic_jpegs(folder, ctx.detect_images, ctx.image_size)
    holder = _DetectModel(MFPT(_model_config(ctx)), ctx.device)
    detector = Detector(holder, None, ctx.device)  # type: ignore[arg-type]  # duck-typed MFPT
    workers = min(4, os.cpu_count() or 1)  # `deal detect`'s default
    out_dir = ctx.workdir / "detect_out"

    def make(batch: int, dtype: str) -> Workload:
        autocast(ctx.device, dtype)  # validates dtype
        last: dict[str, Any] = {}

        def step(fn: Callable[..., Any]) -> Any:
            object.__setattr__(holder, "runner", fn)
            holder.dtype = dtype
            summary = run_detection(
                [folder], out_dir, detector, batch_size=batch, workers=workers, quiet=True
            )
            if summary.n_failed or summary.n_processed != len(paths):
                raise RuntimeError(
                    f"deal detect over {folder}: {summary.n_failed} of {summary.n_inputs} inputs failed, "
                    f"{summary.n_processed} processed; first error: {_first_error(summary.results_jsonl)}"
                )
            last["processed"] = summary.n_processed
            return summary

        def report() -> dict[str, Any]:
            return {
                "detect_images": len(paths),
                "processed": last.get("processed"),
                "jpeg_bytes": sum(p.stat().st_size for p in paths),
                "input_policy": holder.config.input_policy,
                "save": list(DEFAULT_SAVE),
                "workers": workers,
            }

        return Workload(target=holder.model, step=step, images=len(paths), timer="wall", report=report)

    return make


ROWS: dict[int, RowSpec] = {
    1: RowSpec(1, "stock-encoder", build_stock_encoder_row, "segment-anything ImageEncoderViT forward"),
    2: RowSpec(2, "deal-encoder", build_deal_encoder_row, "MFPT image_encoder.forward_features (timm, SDPA)"),
    3: RowSpec(3, "detector-forward", build_detector_forward_row, "MFPT forward: prompts, encoder, decoder"),
    4: RowSpec(4, "train-step", build_train_step_row, "frozen-encoder training step, AdamW"),
    5: RowSpec(5, "detect-folder", build_detect_folder_row, "run_detection over JPEGs on disk, end to end"),
}
