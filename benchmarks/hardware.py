"""What a speed benchmark ran on, as a dict for its JSON (built on deal.evaluation.system's helpers)."""

from __future__ import annotations

import os
import platform
import sys
from typing import Any

import torch

from deal.evaluation.system import cpu_name, hardware_string


def describe_hardware(device: torch.device) -> dict[str, Any]:
    """{"description", "cpu", "cpu_count", "cpu_affinity", "torch_threads", "load_average", "gpu", "cuda",
    "torch", "python", "platform", "tf32_matmul", "tf32_cudnn"}.

    load_average is os.getloadavg() when the benchmark starts: other processes sharing the CPU make CPU
    timings (and the host side of GPU timings) slower; a value above the core count means contention.
    """
    gpu = None
    if device.type == "cuda" and torch.cuda.is_available():
        index = device.index if device.index is not None else torch.cuda.current_device()
        gpu = torch.cuda.get_device_name(index)
    try:
        affinity: int | None = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        affinity = None
    try:
        load: list[float] | None = [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        load = None
    return {
        "description": hardware_string(device),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": affinity,
        "torch_threads": torch.get_num_threads(),
        "load_average": load,
        "gpu": gpu,
        "cuda": torch.version.cuda if gpu else None,
        "torch": torch.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "tf32_matmul": bool(torch.backends.cuda.matmul.allow_tf32),
        "tf32_cudnn": bool(torch.backends.cudnn.allow_tf32),
    }
