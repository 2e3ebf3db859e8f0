"""Which device runs the detector, and at which precision."""

from __future__ import annotations

import contextlib

import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """ "auto" picks CUDA, then MPS, then the CPU. An unavailable device is a ValueError saying so."""
    if isinstance(device, torch.device):
        return device
    name = str(device).lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    kind = name.split(":")[0]
    if kind not in DEVICE_CHOICES:
        raise ValueError(f"unknown device {device!r}; choose from {list(DEVICE_CHOICES)}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but CUDA is not available (no GPU, or a CPU-only torch)")
    if kind == "mps" and not _mps_available():
        raise ValueError("device 'mps' requested but MPS is not available on this machine")
    return torch.device(name)


def precision(device: torch.device) -> str:
    """bf16 autocast on CUDA, float32 elsewhere (CPU and MPS)."""
    return "bfloat16" if device.type == "cuda" else "float32"


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """The autocast context of `device`'s precision (a no-op in float32)."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
