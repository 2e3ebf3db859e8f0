"""What a benchmark ran on: a hardware string and the peak memory of the run."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import torch


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _is_cuda(device: str | torch.device | None) -> bool:
    return device is not None and torch.device(device).type == "cuda" and torch.cuda.is_available()


def hardware_string(device: str | torch.device | None = None) -> str:
    """``"NVIDIA H100 80GB HBM3 (cuda:0); CPU <model> x16; torch 2.x; Linux"`` style description."""
    parts = []
    if _is_cuda(device):
        dev = torch.device(device)
        index = dev.index if dev.index is not None else torch.cuda.current_device()
        parts.append(f"{torch.cuda.get_device_name(index)} (cuda:{index})")
    parts.append(f"CPU {cpu_name()} x{os.cpu_count()}")
    parts.append(f"torch {torch.__version__}")
    parts.append(platform.system())
    return "; ".join(parts)


def reset_peak_memory(device: str | torch.device | None = None) -> None:
    """Start a fresh CUDA peak-memory count (no-op on CPU: the process max RSS cannot be reset)."""
    if _is_cuda(device):
        torch.cuda.reset_peak_memory_stats(torch.device(device))


def peak_memory(device: str | torch.device | None = None) -> dict[str, int | str]:
    """``{"bytes": N, "kind": K}``: ``torch.cuda.max_memory_allocated`` on a CUDA device (since
    :func:`reset_peak_memory`), else the process's max resident set size (whole process lifetime)."""
    if _is_cuda(device):
        return {
            "bytes": int(torch.cuda.max_memory_allocated(torch.device(device))),
            "kind": "cuda_max_allocated",
        }
    try:
        import resource  # POSIX only
    except ImportError:
        return {"bytes": 0, "kind": "unavailable"}
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"bytes": int(rss if sys.platform == "darwin" else rss * 1024), "kind": "process_max_rss"}
