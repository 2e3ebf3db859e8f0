"""run_speed_benchmark: images/s and peak memory of the stock SAM encoder, this project's encoder, the
detector forward, a training step and end-to-end folder detection, side by side in one process.

For every selected row (deal_benchmarks.workloads.ROWS) and every (batch, dtype, compile) configuration:
build the step; (compile on: torch.compile and one untimed first call, which compiles; a failure there
falls back to eager and is recorded as "compile": "failed: <reason>"); start the peak-memory count
(deal_benchmarks.timing; so the compiler's own memory is not counted); `warmup` untimed steps, then `repeats`
timed steps; images/s = images per step / median seconds. A configuration that fails (out of memory,
unsupported) is recorded with its error and the run goes on.
ratio_to_row1 = images_per_s / images_per_s of row 1 (the stock encoder) at the same batch, dtype and
compile setting (None without a row 1 measurement). peak_memory_gib_per_image = peak memory / images per
step. The training-step row (4) is measured once per attention backend of `attentions` (the global
blocks' rel-pos attention: "sdpa", "flex", or "auto", the model's default); every row records its
"attention".
"""

from __future__ import annotations

import gc
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from deal_benchmarks.hardware import describe_hardware
from deal_benchmarks.timing import GIB, PeakMemory, median, time_repeats
from deal_benchmarks.workloads import DTYPES, ROWS, RowContext, WorkloadFactory

TRAIN_ROW = 4  # the row measured once per attention backend

FORMAT = "deal-benchmark-speed/1"
COMPILE_MODES = ("off", "on")
DEFAULT_IMAGE_SIZE = {"tiny": 512}  # others: 1024
MAX_ERROR_CHARS = 400

PEAK_MEMORY_KINDS = {
    "cuda_max_allocated": "torch.cuda.max_memory_allocated after reset_peak_memory_stats (weights, inputs, "
    "activations; the caching allocator's reserve not counted)",
    "cpu_rss_growth": "growth of the process's resident set: VmHWM (reset via /proc/self/clear_refs) minus "
    "VmRSS at the reset; excludes the weights and inputs already resident; a lower bound",
    "cpu_maxrss_growth": "growth of getrusage ru_maxrss (process-lifetime maximum; 0 if earlier work "
    "peaked higher)",
    "unavailable": "not measured",
}


def default_image_size(size: str) -> int:
    return DEFAULT_IMAGE_SIZE.get(size, 1024)


def resolve_benchmark_device(device: str | torch.device) -> torch.device:
    """ "auto": CUDA if available, else the CPU. "cuda" without CUDA is a ValueError."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {device!r}; choose auto, cpu or cuda")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but CUDA is not available (no GPU, or a CPU-only torch)")
    return dev


def describe_error(err: BaseException) -> str:
    """'ExceptionType: first line of the message' (at most MAX_ERROR_CHARS characters)."""
    text = str(err).strip().splitlines()
    message = f"{type(err).__name__}: {text[0] if text else ''}".rstrip(": ")
    return message if len(message) <= MAX_ERROR_CHARS else message[: MAX_ERROR_CHARS - 3] + "..."


def _free_device_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def _reset_compiler() -> None:
    import torch._dynamo

    torch._dynamo.reset()


def measure_configuration(
    make: WorkloadFactory,
    *,
    device: torch.device,
    batch: int,
    dtype: str,
    compile_mode: str,
    warmup: int,
    repeats: int,
) -> dict[str, Any]:
    """One row at one configuration -> the measured fields (or {"error": ...}); never raises Exception."""
    out: dict[str, Any] = {"compile": compile_mode, "error": None}
    try:
        workload = make(batch, dtype)
        fn = workload.target
        if compile_mode == "on":
            _reset_compiler()  # no cache or dynamic-shape guesses carried over from another configuration
            try:
                compiled = torch.compile(workload.target)
                workload.step(compiled)  # the first call compiles (untimed)
                fn = compiled
            except Exception as err:  # any compiler failure: measure eager, say why
                out["compile"] = f"failed: {describe_error(err)}"
                _reset_compiler()
                _free_device_memory(device)
        memory = PeakMemory(device).start()  # after compiling: the compiler's own memory is not the model's
        for _ in range(warmup):
            workload.step(fn)
        seconds = time_repeats(lambda: workload.step(fn), device, repeats, workload.timer)
        peak, kind = memory.stop()
        seconds_median = median(seconds)
        out.update(
            images_per_step=workload.images,
            timer=workload.timer,
            seconds=[round(s, 6) for s in seconds],
            seconds_median=seconds_median,
            images_per_s=workload.images / seconds_median if seconds_median > 0 else None,
            peak_memory_bytes=peak,
            peak_memory_gib=peak / GIB,
            peak_memory_gib_per_image=peak / GIB / workload.images,
            peak_memory_kind=kind,
            extra=workload.report() if workload.report is not None else {},
        )
    except Exception as err:  # out of memory, unsupported dtype or operator: record it, go on
        out["error"] = describe_error(err)
    finally:
        _free_device_memory(device)
    return out


def add_ratios(rows: list[dict[str, Any]]) -> None:
    """Sets ratio_to_row1 on every row (in place): images/s over row 1's at the same batch/dtype/compile."""
    reference = {
        (r["batch"], r["dtype"], r["compile_mode"]): r["images_per_s"]
        for r in rows
        if r["row"] == 1 and r.get("error") is None and r.get("images_per_s")
    }
    for r in rows:
        ref = reference.get((r["batch"], r["dtype"], r["compile_mode"]))
        ok = r.get("error") is None and r.get("images_per_s") is not None and ref
        r["ratio_to_row1"] = r["images_per_s"] / ref if ok else None


def _check_arguments(
    size: str,
    image_size: int,
    batch_sizes: Sequence[int],
    dtypes: Sequence[str],
    compile_modes: Sequence[str],
    rows: Sequence[int],
    warmup: int,
    repeats: int,
    detect_images: int,
    attentions: Sequence[str] = ("auto",),
) -> None:
    from deal.modeling.config import ATTENTION_BACKENDS, ENCODER_SPECS

    problems = []
    if size not in ENCODER_SPECS:
        problems.append(f"size {size!r} is not one of {list(ENCODER_SPECS)}")
    if image_size < 16 or image_size % 16:
        problems.append(f"image_size {image_size} is not a positive multiple of 16")
    if not batch_sizes or any(int(b) < 1 for b in batch_sizes):
        problems.append(f"batch sizes must be >= 1, got {list(batch_sizes)}")
    if not dtypes or any(d not in DTYPES for d in dtypes):
        problems.append(f"dtypes must be among {list(DTYPES)}, got {list(dtypes)}")
    if not compile_modes or any(c not in COMPILE_MODES for c in compile_modes):
        problems.append(f"compile modes must be among {list(COMPILE_MODES)}, got {list(compile_modes)}")
    if not rows or any(r not in ROWS for r in rows):
        problems.append(f"rows must be among {sorted(ROWS)}, got {list(rows)}")
    if (
        not attentions
        or any(a not in ATTENTION_BACKENDS for a in attentions)
        or len(set(attentions)) < len(attentions)
    ):
        problems.append(
            f"attention must be distinct values among {list(ATTENTION_BACKENDS)}, got {list(attentions)}"
        )
    if warmup < 0 or repeats < 1 or detect_images < 1:
        problems.append(
            f"need warmup >= 0, repeats >= 1, detect_images >= 1 (got {warmup}, {repeats}, {detect_images})"
        )
    if problems:
        raise ValueError("; ".join(problems))


def run_speed_benchmark(
    size: str,
    image_size: int | None = None,
    batch_sizes: Sequence[int] = (1, 8),
    dtypes: Sequence[str] = DTYPES,
    compile_modes: Sequence[str] = COMPILE_MODES,
    rows: Sequence[int] = tuple(ROWS),
    device: str | torch.device = "auto",
    warmup: int | None = None,
    repeats: int | None = None,
    detect_images: int = 16,
    *,
    threads: int | None = None,
    attentions: Sequence[str] = ("auto",),
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Measures the selected rows at every (batch, dtype, compile) configuration.

    Args:
        size: encoder size (tiny, vit_b, vit_l, vit_h).
        image_size: square input side (None: 512 for tiny, 1024 otherwise).
        batch_sizes, dtypes ("fp32", "bf16"), compile_modes ("off", "on"), rows (1-5): the grid.
        device: "auto" (CUDA if available, else CPU), "cpu" or "cuda".
        warmup: untimed steps per configuration (None: 3 on CUDA, 1 on the CPU).
        repeats: timed steps, the median is kept (None: 10 on CUDA, 3 on the CPU).
        detect_images: JPEGs written for row 5 (each of image_size x image_size).
        threads: torch.set_num_threads for the run (restored after); None keeps torch's setting. On a CPU
            shared with other busy processes, fewer threads than cores keeps OpenMP threads from waiting
            on a descheduled peer (on a 2-core machine busy with a training run, 2 threads made the tiny
            encoder's steps 2x to 100x slower than 1 thread did).
        attentions: the global blocks' attention backends ("auto", "sdpa", "flex") the training-step
            row is measured with, one measurement each (the other rows use "auto").
        log: called with one progress line per configuration.

    Returns:
        {"format", "settings", "hardware", "timer", "peak_memory", "rows": [one dict per row and
        configuration, in measurement order], "seconds_total"}. A row dict has row, name, attention,
        size, image_size, batch, dtype, compile_mode, compile ("off", "on" or "failed: ..."), error
        (None or text), and when measured: images_per_step, timer, seconds, seconds_median,
        images_per_s, peak_memory_bytes, peak_memory_gib, peak_memory_gib_per_image, peak_memory_kind,
        extra (row-specific), ratio_to_row1.

    Raises:
        ValueError: an argument out of range, or an unavailable device.
    """
    dev = resolve_benchmark_device(device)
    image_size = default_image_size(size) if image_size is None else int(image_size)
    warmup = (3 if dev.type == "cuda" else 1) if warmup is None else int(warmup)
    repeats = (10 if dev.type == "cuda" else 3) if repeats is None else int(repeats)
    batch_sizes = [int(b) for b in batch_sizes]
    rows = [int(r) for r in rows]
    attentions = list(attentions)
    _check_arguments(
        size, image_size, batch_sizes, dtypes, compile_modes, rows, warmup, repeats, detect_images, attentions
    )
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        return _run(
            size,
            image_size,
            batch_sizes,
            dtypes,
            compile_modes,
            rows,
            dev,
            warmup,
            repeats,
            detect_images,
            attentions,
            log,
        )
    finally:
        torch.set_num_threads(previous_threads)


def _run(
    size: str,
    image_size: int,
    batch_sizes: list[int],
    dtypes: Sequence[str],
    compile_modes: Sequence[str],
    rows: list[int],
    dev: torch.device,
    warmup: int,
    repeats: int,
    detect_images: int,
    attentions: list[str],
    log: Callable[[str], None] | None,
) -> dict[str, Any]:
    t_start = time.perf_counter()
    hardware = describe_hardware(dev)
    measured: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="deal-benchmark-speed-") as workdir:
        variants = [(n, a) for n in rows for a in (attentions if n == TRAIN_ROW else ["auto"])]
        for number, attention in variants:
            ctx = RowContext(size, image_size, dev, int(detect_images), Path(workdir), attention)
            spec = ROWS[number]
            configs = [(b, d, c) for b in batch_sizes for d in dtypes for c in compile_modes]
            try:
                make: WorkloadFactory | None = spec.build(ctx)
                build_error = None
            except Exception as err:  # e.g. the model does not fit on the device
                make, build_error = None, f"building the row failed: {describe_error(err)}"
            for batch, dtype, compile_mode in configs:
                row = {
                    "row": number,
                    "name": spec.name,
                    "attention": attention,
                    "size": size,
                    "image_size": image_size,
                    "batch": batch,
                    "dtype": dtype,
                    "compile_mode": compile_mode,
                }
                if make is None:
                    row.update(compile=compile_mode, error=build_error)
                else:
                    row.update(
                        measure_configuration(
                            make,
                            device=dev,
                            batch=batch,
                            dtype=dtype,
                            compile_mode=compile_mode,
                            warmup=warmup,
                            repeats=repeats,
                        )
                    )
                measured.append(row)
                if log is not None:
                    log(_progress_line(row))
            make = None
            _free_device_memory(dev)
    add_ratios(measured)
    kinds = sorted({r["peak_memory_kind"] for r in measured if r.get("peak_memory_kind")})
    return {
        "format": FORMAT,
        "settings": {
            "size": size,
            "image_size": image_size,
            "batch_sizes": batch_sizes,
            "dtypes": list(dtypes),
            "compile_modes": list(compile_modes),
            "rows": rows,
            "device": str(dev),
            "warmup": warmup,
            "repeats": repeats,
            "detect_images": int(detect_images),
            "attentions": attentions,
            "threads": torch.get_num_threads(),
        },
        "hardware": hardware,
        "timer": "CUDA events (row 5: wall clock with synchronize), median of repeats"
        if dev.type == "cuda"
        else "wall clock (time.perf_counter), median of repeats",
        "peak_memory": {k: PEAK_MEMORY_KINDS[k] for k in kinds},
        "rows": measured,
        "seconds_total": round(time.perf_counter() - t_start, 3),
    }


def _progress_line(row: dict[str, Any]) -> str:
    name = row["name"] if row.get("attention", "auto") == "auto" else f"{row['name']} [{row['attention']}]"
    head = f"row {row['row']} {name} batch {row['batch']} {row['dtype']} compile {row['compile_mode']}"
    if row.get("error"):
        return f"{head}: FAILED: {row['error']}"
    note = f" (compile {row['compile']})" if row["compile"] != row["compile_mode"] else ""
    return f"{head}: {row['images_per_s']:.3f} images/s, peak {row['peak_memory_gib']:.3f} GiB{note}"
