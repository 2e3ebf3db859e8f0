"""Timing one call and the peak memory of a stretch of work, on CUDA or the CPU.

Timers:
- "events" on CUDA: torch.cuda.Event pairs around each call, read after synchronizing (GPU time of the
  stream, which includes any idle gap while the host prepares work).
- "wall" everywhere: time.perf_counter around each call, with torch.cuda.synchronize before and after on
  CUDA (used on the CPU, and for end-to-end work that does host I/O).

Why not torch.utils.benchmark.Timer: its timeit() runs at least two extra warm-up calls before every
measurement, and the rows time stateful work call by call (a training step updates the weights, a detect
run writes files; the steps are counted and checked), after a warm-up they choose themselves; and it has
no CUDA-event timer. Its wall clock is the same perf_counter with the same synchronization.

Peak memory:
- CUDA: torch.cuda.max_memory_allocated after torch.cuda.reset_peak_memory_stats (tensors only, not the
  caching allocator's reserve), via deal.evaluation.system.
- CPU on Linux: the growth of the process's resident set. Freed heap memory is first handed back to the
  kernel (glibc's malloc_trim(0), where glibc is the C library), then the kernel's high-water mark (VmHWM)
  is reset to the current RSS by writing "5" to /proc/self/clear_refs (Linux >= 4.0); the peak is VmHWM at
  the end minus VmRSS at the reset. Weights and inputs already resident are not counted, and memory the
  C allocator still holds from earlier work and reuses does not show as growth: a lower bound.
- Elsewhere: the growth of getrusage's ru_maxrss (a process-lifetime maximum that cannot be reset: 0 when
  an earlier stretch of work peaked higher).
No library measures a resettable CPU peak RSS, hence the few lines of /proc reading here.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from deal.evaluation.system import peak_memory, reset_peak_memory

TIMERS = ("events", "wall")
GIB = float(1 << 30)


def synchronize(device: torch.device) -> None:
    """Waits for the device's queued work (no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(fn: Callable[[], Any], device: torch.device, timer: str = "events") -> float:
    """Seconds one call of `fn` takes. "events" uses CUDA events on a CUDA device, else a wall clock."""
    if timer not in TIMERS:
        raise ValueError(f"unknown timer {timer!r}; choose from {list(TIMERS)}")
    if timer == "events" and device.type == "cuda":
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        synchronize(device)
        start.record()
        fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1000.0
    synchronize(device)
    t0 = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - t0


def time_repeats(
    fn: Callable[[], Any], device: torch.device, repeats: int, timer: str = "events"
) -> list[float]:
    """Seconds of each of `repeats` calls (no warm-up: do that first)."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    return [time_call(fn, device, timer) for _ in range(repeats)]


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def _proc_status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _trim_heap() -> None:
    """Returns free heap memory to the kernel (glibc only; elsewhere a no-op)."""
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_hwm() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return _proc_status_kib("VmHWM") is not None


class PeakMemory:
    """Peak memory of the work done between start() and stop().

    stop() returns (bytes, kind) with kind one of "cuda_max_allocated", "cpu_rss_growth" (VmHWM reset
    through /proc/self/clear_refs), "cpu_maxrss_growth" (getrusage; see the module docstring) or
    "unavailable" (bytes 0).
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._kind = "unavailable"
        self._base = 0

    def start(self) -> PeakMemory:
        if self.device.type == "cuda":
            synchronize(self.device)
            reset_peak_memory(self.device)
            self._kind = "cuda_max_allocated"
            return self
        _trim_heap()
        if _reset_hwm():
            self._kind = "cpu_rss_growth"
            self._base = (_proc_status_kib("VmRSS") or 0) * 1024
        else:
            mem = peak_memory(self.device)
            self._kind = "cpu_maxrss_growth" if mem["kind"] == "process_max_rss" else "unavailable"
            self._base = int(mem["bytes"])
        return self

    def stop(self) -> tuple[int, str]:
        if self._kind == "cuda_max_allocated":
            synchronize(self.device)
            return int(peak_memory(self.device)["bytes"]), self._kind
        if self._kind == "cpu_rss_growth":
            hwm = (_proc_status_kib("VmHWM") or 0) * 1024
            return max(0, hwm - self._base), self._kind
        if self._kind == "cpu_maxrss_growth":
            return max(0, int(peak_memory(self.device)["bytes"]) - self._base), self._kind
        return 0, "unavailable"
