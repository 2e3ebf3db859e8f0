"""A server killed (kill -9) mid-job resumes the job when it starts again: outputs byte-identical to deal detect."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import torch

from tests.conftest import REPO_ROOT
from tests.inference.test_detect_cli import read_jsonl, run_cli, tree_bytes
from tests.serve.live import png_bytes, post_job, request, wait_done


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data: Path, detector_file: Path, port: int) -> subprocess.Popen:
    # CPU float sums depend on the thread count: the server uses this process's, like the clean run below.
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), OMP_NUM_THREADS=str(torch.get_num_threads()))
    args = [
        "serve",
        "--port",
        str(port),
        "--data",
        str(data),
        "--detector",
        str(detector_file),
        "--device",
        "cpu",
        "--batch-size",
        "2",
        "--workers",
        "1",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "deal.cli.main", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if request(port, "GET", "/healthz").status == 200:
                return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("the server did not start")


def test_kill_mid_job_then_restart_resumes_byte_identical(detector_file, tmp_path):
    data, port = tmp_path / "data", free_port()
    uploads = [(f"img{i}.jpg", png_bytes(64 + 8 * (i % 3), 120, 10 + i, "JPEG")) for i in range(8)]
    fields = [("save", "heatmap,mask,overlay,npz,json"), ("report", "html")]
    proc = start_server(data, detector_file, port)
    try:
        job = post_job(port, uploads, fields).json()
        folder = data / "jobs" / job["id"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list((folder / "out").glob("*.jpg.json")):
            time.sleep(0.01)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    done_at_kill = len(list((folder / "out").glob("*.jpg.json")))
    print(f"killed after {done_at_kill} of 8 records")
    assert 0 < done_at_kill < 8 and not (folder / "state.json").exists(), "the kill did not land mid-job"
    (folder / "out" / ".img0.jpg.heatmap.png.abcd1234.part").write_bytes(b"partial")  # as a crash leaves it

    proc = start_server(data, detector_file, port)
    try:
        status = wait_done(port, job["id"])
        assert status["state"] == "done" and status["progress"]["done"] == 8
        assert status["progress"]["n_skipped"] == done_at_kill
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    inputs = [str(folder / "inputs" / name) for name, _ in uploads]
    rc, _ = run_cli(
        *inputs,
        "--out",
        tmp_path / "clean",
        "--detector",
        detector_file,
        "--device",
        "cpu",
        "--batch-size",
        "2",
        "--save",
        "heatmap,mask,overlay,npz,json",
        "--report",
        "html",
        "--quiet",
    )
    assert rc == 0
    got, want = tree_bytes(folder / "out"), tree_bytes(tmp_path / "clean")
    assert sorted(got) == sorted(want)
    assert [p for p in want if got[p] != want[p]] == []
    assert len(read_jsonl(folder / "out" / "results.jsonl")) == 8
