"""`deal benchmark-speed` on the tiny size at 64x64: structure and numbers of the JSON (never times)."""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from deal_benchmarks import workloads
from deal_benchmarks.speed import add_ratios, run_speed_benchmark
from deal_benchmarks.stock_encoder import build_stock_encoder
from deal_benchmarks.synthetic_jpegs import write_synthetic_jpegs
from deal_benchmarks.table import format_table
from deal_benchmarks.timing import GIB, PeakMemory, time_repeats
from deal_benchmarks.workloads import ROWS, RowSpec, build_deal_encoder_row, tensors_sha256

from deal.cli.main import main
from deal.modeling.rel_pos_attention import flex_attention_available

TINY = ["--size", "tiny", "--image-size", "64", "--dtypes", "fp32", "--compile", "off"]
FAST = ["--repeats", "1", "--warmup", "0", "--threads", "1", "--quiet"]
MEMORY_KINDS = {"cpu_rss_growth", "cpu_maxrss_growth", "unavailable"}


def _ratio_ok(rows: list[dict]) -> None:
    ref = {(r["batch"], r["dtype"], r["compile_mode"]): r["images_per_s"] for r in rows if r["row"] == 1}
    for r in rows:
        expected = r["images_per_s"] / ref[(r["batch"], r["dtype"], r["compile_mode"])]
        assert r["ratio_to_row1"] == pytest.approx(expected, rel=1e-9, abs=1e-9)


@pytest.fixture(scope="module")
def cli_result(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict, str]:
    """The real command, run in this process (exit code, its JSON, its stdout)."""
    out = tmp_path_factory.mktemp("speed") / "speed.json"
    threads_before = torch.get_num_threads()
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(
            [
                "benchmark-speed",
                *TINY,
                "--batch-sizes",
                "1,2",
                "--detect-images",
                "3",
                *FAST,
                "--out",
                str(out),
            ]
        )
    assert torch.get_num_threads() == threads_before  # --threads 1 applied to the run only
    return rc, json.loads(out.read_text()), buf.getvalue()


@pytest.mark.slow  # shares the full benchmark-speed run: ~15 s
def test_cli_writes_every_row_with_consistent_numbers(cli_result: tuple[int, dict, str]) -> None:
    rc, result, stdout = cli_result
    assert rc == 0
    rows = result["rows"]
    assert sorted((r["row"], r["batch"]) for r in rows) == [(n, b) for n in range(1, 6) for b in (1, 2)]
    for r in rows:
        assert r["error"] is None, r
        assert r["name"] == ROWS[r["row"]].name
        assert (r["size"], r["image_size"], r["dtype"], r["compile_mode"], r["compile"]) == (
            "tiny",
            64,
            "fp32",
            "off",
            "off",
        )
        assert len(r["seconds"]) == 1 and r["seconds_median"] == pytest.approx(r["seconds"][0], abs=1e-6)
        assert r["images_per_s"] > 0
        assert r["images_per_s"] == pytest.approx(r["images_per_step"] / r["seconds_median"], rel=1e-12)
        assert r["peak_memory_bytes"] >= 0 and r["peak_memory_kind"] in MEMORY_KINDS
        assert r["peak_memory_gib"] == pytest.approx(r["peak_memory_bytes"] / 2**30, rel=1e-12)
        expected_images = 3 if r["row"] == 5 else r["batch"]
        assert r["images_per_step"] == expected_images
    _ratio_ok(rows)
    assert all(r["ratio_to_row1"] == 1.0 for r in rows if r["row"] == 1)


@pytest.mark.slow  # shares the full benchmark-speed run
def test_cli_detect_and_train_rows(cli_result: tuple[int, dict, str]) -> None:
    _, result, _ = cli_result
    for r in result["rows"]:
        if r["row"] == 5:
            assert r["extra"]["detect_images"] == 3 and r["extra"]["processed"] == 3
            assert r["extra"]["save"] == ["heatmap", "mask", "overlay", "json"]
            assert r["timer"] == "wall"
        if r["row"] == 4:
            extra = r["extra"]
            assert extra["encoder_sha256_before"] == extra["encoder_sha256_after"]
            assert extra["encoder_unchanged"] is True and extra["encoder_params_with_grad"] == 0
            assert extra["trainable_changed"] is True  # the step did update the prompts and decoder
            assert extra["steps"] == 1  # warmup 0 + repeats 1
            assert extra["trainable_params"] > 0 and np.isfinite(extra["last_loss"])


@pytest.mark.slow  # shares the full benchmark-speed run
def test_cli_settings_hardware_and_table(cli_result: tuple[int, dict, str]) -> None:
    _, result, stdout = cli_result
    assert result["format"] == "deal-benchmark-speed/1"
    assert result["command"].startswith("deal benchmark-speed --size tiny --image-size 64 --batch-sizes 1,2")
    assert "--threads 1" in result["command"]
    s = result["settings"]
    assert (s["size"], s["image_size"], s["batch_sizes"], s["dtypes"], s["compile_modes"]) == (
        "tiny",
        64,
        [1, 2],
        ["fp32"],
        ["off"],
    )
    assert (s["rows"], s["device"], s["warmup"], s["repeats"], s["detect_images"], s["threads"]) == (
        [1, 2, 3, 4, 5],
        "cpu",
        0,
        1,
        3,
        1,
    )
    hw = result["hardware"]
    assert hw["cpu"] and hw["cpu_count"] == os.cpu_count() and hw["torch"] == torch.__version__
    assert hw["gpu"] is None and hw["torch_threads"] == 1
    lines = stdout.splitlines()
    assert lines[0].split()[:3] == ["row", "size", "batch"]
    data = [line for line in lines if line[:1].isdigit()]
    assert len(data) == 10
    assert [line.split()[0] for line in data] == ["1", "2", "3", "4", "5"] * 2  # by batch, then row
    assert any(line.startswith("written: ") for line in lines)


def test_failing_configuration_is_recorded_and_the_run_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    def oom_at_batch_2(ctx: workloads.RowContext) -> workloads.WorkloadFactory:
        make = build_deal_encoder_row(ctx)

        def make_or_fail(batch: int, dtype: str) -> workloads.Workload:
            workload = make(batch, dtype)
            if batch == 2:

                def step(fn: object) -> None:
                    raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

                workload.step = step
            return workload

        return make_or_fail

    monkeypatch.setitem(ROWS, 2, RowSpec(2, "deal-encoder", oom_at_batch_2))
    result = run_speed_benchmark("tiny", 64, [1, 2], ["fp32"], ["off"], [1, 2, 3], "cpu", 0, 1, 1, threads=1)
    by_key = {(r["row"], r["batch"]): r for r in result["rows"]}
    assert len(by_key) == 6
    failed = by_key[(2, 2)]
    assert failed["error"] == "OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"
    assert "images_per_s" not in failed and failed["ratio_to_row1"] is None
    for key, r in by_key.items():
        if key != (2, 2):
            assert r["error"] is None and r["images_per_s"] > 0  # rows before and after still ran


def test_failing_build_fails_every_configuration_of_that_row(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(ctx: workloads.RowContext) -> workloads.WorkloadFactory:
        raise RuntimeError("no such operator")

    monkeypatch.setitem(ROWS, 3, RowSpec(3, "detector-forward", broken))
    result = run_speed_benchmark("tiny", 32, [1], ["fp32", "bf16"], ["off"], [1, 3], "cpu", 0, 1, threads=1)
    errors = {(r["row"], r["dtype"]): r["error"] for r in result["rows"]}
    assert (
        errors[(3, "fp32")]
        == errors[(3, "bf16")]
        == "building the row failed: RuntimeError: no such operator"
    )
    assert errors[(1, "fp32")] is None and errors[(1, "bf16")] is None  # bf16 autocast on the CPU runs


def test_compile_failure_falls_back_to_eager(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_compile(target: object, *args: object, **kwargs: object) -> object:
        def call(*a: object, **k: object) -> None:
            raise RuntimeError("backend exploded\nlong traceback")

        return call

    monkeypatch.setattr(torch, "compile", failing_compile)
    result = run_speed_benchmark("tiny", 32, [1], ["fp32"], ["off", "on"], [1, 2], "cpu", 0, 1, threads=1)
    rows = {(r["row"], r["compile_mode"]): r for r in result["rows"]}
    for n in (1, 2):
        assert rows[(n, "on")]["compile"] == "failed: RuntimeError: backend exploded"
        assert rows[(n, "on")]["error"] is None and rows[(n, "on")]["images_per_s"] > 0
        assert rows[(n, "off")]["compile"] == "off"
    _ratio_ok(result["rows"])
    assert "compile failed: RuntimeError: backend exploded" in format_table(result)


@pytest.mark.parametrize(
    "bad",
    [
        ["--dtypes", "fp8"],
        ["--rows", "1,6"],
        ["--batch-sizes", "1,x"],
        ["--compile", "maybe"],
        ["--image-size", "60"],
        ["--attention", "sdpa,flash"],
        ["--attention", "flex,flex"],
    ],
)
def test_bad_arguments_are_usage_errors(bad: list[str], tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    args = ["benchmark-speed", "--size", "tiny", "--batch-sizes", "1", *FAST, "--out", str(out), *bad]
    assert main(args) == 2
    assert not out.exists()


@pytest.mark.skipif(
    not flex_attention_available("cpu"), reason="torch.nn.attention.flex_attention not importable"
)
def test_train_step_once_per_attention_backend(tmp_path: Path) -> None:
    """--attention sdpa,flex: row 4 twice (the other rows once), each with its backend and GiB per image."""
    out = tmp_path / "speed.json"
    buf = io.StringIO()
    args = ["benchmark-speed", *TINY, "--rows", "2,4", "--batch-sizes", "2", "--attention", "sdpa,flex"]
    with contextlib.redirect_stdout(buf):
        rc = main([*args, *FAST, "--out", str(out)])
    assert rc == 0
    result = json.loads(out.read_text())
    rows = result["rows"]
    assert [(r["row"], r["attention"]) for r in rows] == [(2, "auto"), (4, "sdpa"), (4, "flex")]
    assert result["settings"]["attentions"] == ["sdpa", "flex"]
    assert "--attention sdpa,flex" in result["command"]
    for r in rows:
        assert r["error"] is None, r
        assert r["peak_memory_gib_per_image"] == pytest.approx(r["peak_memory_gib"] / 2, rel=1e-12)
    trains = {r["attention"]: r for r in rows if r["row"] == 4}
    assert trains["sdpa"]["extra"]["attention_used"] == ["sdpa"]  # the global blocks ran what was asked
    assert trains["flex"]["extra"]["attention_used"] == ["flex"]
    assert all(t["extra"]["trainable_changed"] and t["extra"]["encoder_unchanged"] for t in trains.values())
    table = [line.split() for line in buf.getvalue().splitlines() if line[:1].isdigit()]
    assert [line[:3] for line in table] == [
        ["2", "deal-encoder", "tiny"],
        ["4", "train-step", "[sdpa]"],
        ["4", "train-step", "[flex]"],
    ]
    assert buf.getvalue().splitlines()[0].split()[-1] == "GiB/image"


def test_ratios_need_a_measured_row1() -> None:
    rows = [
        {"row": 1, "batch": 1, "dtype": "fp32", "compile_mode": "off", "images_per_s": 4.0, "error": None},
        {"row": 2, "batch": 1, "dtype": "fp32", "compile_mode": "off", "images_per_s": 6.0, "error": None},
        {"row": 2, "batch": 8, "dtype": "fp32", "compile_mode": "off", "images_per_s": 9.0, "error": None},
        {"row": 1, "batch": 1, "dtype": "bf16", "compile_mode": "off", "error": "OutOfMemoryError: x"},
        {"row": 3, "batch": 1, "dtype": "bf16", "compile_mode": "off", "images_per_s": 2.0, "error": None},
    ]
    add_ratios(rows)
    assert [r["ratio_to_row1"] for r in rows] == [1.0, 1.5, None, None, None]


def test_peak_memory_sees_a_64_mib_allocation() -> None:
    memory = PeakMemory(torch.device("cpu")).start()
    block = np.ones(64 << 20, dtype=np.uint8)  # touches every page
    peak, kind = memory.stop()
    del block
    if kind != "cpu_rss_growth":
        pytest.skip(f"/proc/self/clear_refs is not writable here (kind {kind})")
    assert 64 << 20 <= peak < (64 << 20) + (32 << 20)
    assert time_repeats(lambda: None, torch.device("cpu"), 3) and GIB == 2**30


def test_synthetic_jpegs_and_stock_encoder(tmp_path: Path) -> None:
    paths = write_synthetic_jpegs(tmp_path / "j", 3, 48, seed=1)
    assert [p.name for p in paths] == ["img_0000.jpg", "img_0001.jpg", "img_0002.jpg"]
    decoded = [cv2.imread(str(p)) for p in paths]
    assert all(d.shape == (48, 48, 3) for d in decoded)
    assert float(np.abs(decoded[0].astype(int) - decoded[1].astype(int)).mean()) > 5  # distinct images
    encoder = build_stock_encoder("tiny", 64).eval()
    with torch.inference_mode():
        assert tuple(encoder(torch.zeros(1, 3, 64, 64)).shape) == (1, 128, 4, 4)
    a = [torch.arange(6, dtype=torch.float32)]
    assert tensors_sha256(a) == tensors_sha256([t.clone() for t in a])
    assert tensors_sha256(a) != tensors_sha256([a[0] + 1e-6])
