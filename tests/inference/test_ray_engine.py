"""`deal detect --engine ray` on a local Ray instance (2 CPUs, no dashboard) started once for the module:
byte-identical to the local engine, a worker killed mid-run, a driver killed and the run resumed."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.inference.conftest import REPO_ROOT, SHARED_DATA, save_image, smooth_image
from tests.inference.test_detect_cli import read_jsonl, run_cli, tree_bytes

ray = pytest.importorskip("ray", reason='Ray is not installed (pip install -e ".[ray]")')

BATCH = 2
N_REAL = 2  # BSDS500 photos (481x321: tiled by the 128-px test detector)


@pytest.fixture(scope="module")
def ray_address():
    """A local Ray instance for the module; its workers import this checkout and use one torch thread."""
    if ray.is_initialized():
        ray.shutdown()
    env = {"PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, runtime_env={"env_vars": env})
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture
def one_thread():
    """The actors use one torch thread each; the local reference run must too (CPU sums depend on it)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _rotated_jpeg(path: Path) -> Path:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    Image.fromarray(smooth_image(48, 80, 21)).save(path, quality=90, exif=exif)
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """A list file naming a folder of real and awkward images (same name in two folders, a corrupt
    JPEG, an EXIF-rotated JPEG, a 16-bit PNG) and one missing file."""
    root = tmp_path_factory.mktemp("ray-in")
    src = root / "in"
    reals = sorted((SHARED_DATA / "natural" / "BSDS500" / "test").glob("*.jpg"))[:N_REAL]
    for p in reals:
        (src / "real").mkdir(parents=True, exist_ok=True)
        (src / "real" / p.name).symlink_to(p)
    save_image(src / "a" / "photo.png", 40, 56, 1)
    save_image(src / "b" / "photo.png", 40, 56, 2)
    save_image(src / "a" / "photo.jpg", 64, 48, 3, quality=85)
    _rotated_jpeg(src / "b" / "rotated.jpg")
    save_image(src / "b" / "wide.jpg", 72, 200, 4, quality=92)
    Image.fromarray(smooth_image(36, 36, 5)[..., 0].astype(np.uint16) * 257).save(src / "b" / "deep.png")
    good = src / "c" / "corrupt.jpg"
    save_image(good, 64, 64, 6, quality=90)
    good.write_bytes(good.read_bytes()[:300])
    for i in range(4):
        save_image(src / "c" / f"more{i}.png", 48 + 8 * i, 64, 7 + i)
    listing = root / "list.txt"
    listing.write_text(f"# the inputs of the Ray tests\n{src}\n\nmissing.jpg\n")
    return listing


def _args(listing: Path, detector_file: Path) -> list[str]:
    return [
        "--inputs-from",
        str(listing),
        "--detector",
        str(detector_file),
        "--device",
        "cpu",
        "--batch-size",
        str(BATCH),
        "--save",
        "heatmap,mask,overlay,npz,json",
        "--report",
        "html",
        "--quiet",
    ]


@pytest.fixture(scope="module")
def local_tree(inputs, detector_file, tmp_path_factory) -> dict[str, bytes]:
    """The local engine's outputs (one torch thread, like each Ray worker)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = tmp_path_factory.mktemp("local") / "out"
        rc, _ = run_cli(*_args(inputs, detector_file), "--out", out, "--workers", "1")
    finally:
        torch.set_num_threads(n)
    assert rc == 1  # the corrupt and the missing input
    records = read_jsonl(out / "results.jsonl")
    n_inputs = N_REAL + 12 if SHARED_DATA.is_dir() else 12
    assert len(records) == n_inputs
    assert [Path(r["path"]).name for r in records if r["error"]] == ["corrupt.jpg", "missing.jpg"]
    return tree_bytes(out)


def _same_as_local(out: Path, local: dict[str, bytes]) -> None:
    got = tree_bytes(out)
    assert sorted(got) == sorted(local)
    assert [p for p in local if got[p] != local[p]] == []


def test_ray_engine_writes_the_local_engines_bytes(ray_address, inputs, detector_file, local_tree, tmp_path):
    out = tmp_path / "out"
    rc, err = run_cli(*_args(inputs, detector_file), "--out", out, "--engine", "ray", "--workers", "2")
    assert rc == 1, err
    _same_as_local(out, local_tree)
    records = read_jsonl(out / "results.jsonl")
    rotated = next(r for r in records if r["path"].endswith("rotated.jpg"))
    assert (rotated["height"], rotated["width"]) == (80, 48)  # EXIF applied in the worker
    assert sum(Path(r["path"]).name == "photo.png" for r in records) == 2
    # A rerun on the Ray engine finds every good input done, and rewrites the same results.
    rc, _ = run_cli(*_args(inputs, detector_file), "--out", out, "--engine", "ray", "--workers", "2")
    assert rc == 1
    _same_as_local(out, local_tree)


def _worker_pids(state: str = "") -> list[int]:
    """Ray actor processes of DetectWorker (their title is ray::DetectWorker[.method] while running)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if cmdline.startswith(b"ray::DetectWorker" + state.encode()):
                pids.append(int(entry.name))
    return pids


def _wait_for_no_workers(timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while _worker_pids() and time.time() < deadline:
        time.sleep(0.1)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds Ray's worker processes in /proc")
def test_a_worker_killed_mid_run_is_replaced_and_its_window_redone(
    ray_address, inputs, detector_file, local_tree, tmp_path
):
    from deal.inference.detector import Detector
    from deal.runs.folder import run_detection
    from deal.runs.ray_engine import RayOptions

    _wait_for_no_workers()
    detector = Detector.load(detector_file, "cpu")
    out = tmp_path / "out"
    result: dict = {}

    def run() -> None:
        result["summary"] = run_detection(
            [],
            out,
            detector,
            inputs_from=inputs,
            save="heatmap,mask,overlay,npz,json",
            report="html",
            batch_size=BATCH,
            quiet=True,
            engine="ray",
            ray_options=RayOptions(workers=1),  # one actor (imports are the slow part on 2 CPUs)
        )

    thread = threading.Thread(target=run)
    thread.start()
    killed = None
    deadline = time.time() + 300  # generous: a loaded CI machine starts actors slowly
    while thread.is_alive() and time.time() < deadline and killed is None:
        busy = _worker_pids(".process")
        if busy and list(out.rglob("*.json")):  # mid-run: a window done, another being processed
            os.kill(busy[0], signal.SIGKILL)
            killed = busy[0]
        time.sleep(0.005)
    thread.join(timeout=180)
    assert killed is not None, "no worker was caught processing a window"
    summary = result["summary"]
    assert (summary.n_processed, summary.n_failed) == (summary.n_inputs - 2, 2)
    records = read_jsonl(out / "results.jsonl")
    assert len({r["path"] for r in records}) == len(records) == summary.n_inputs
    _same_as_local(out, local_tree)


def test_a_killed_driver_is_resumed(ray_address, inputs, detector_file, local_tree, tmp_path):
    _wait_for_no_workers()
    out = tmp_path / "out"
    argv = [*_args(inputs, detector_file), "--out", str(out), "--engine", "ray", "--workers", "1"]
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), OMP_NUM_THREADS="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "deal.cli.main", "detect", *argv, "--address", ray_address], env=env
    )
    deadline = time.time() + 300  # generous: a loaded CI machine starts actors slowly
    while time.time() < deadline and proc.poll() is None and not list(out.rglob("*.json")):
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_at_kill = len(list(out.rglob("*.json")))
    assert done_at_kill, "the run wrote nothing before its driver was killed"
    _wait_for_no_workers()  # Ray stops the actors of a dead driver
    rc, err = run_cli(*argv)
    assert rc == 1, err
    _same_as_local(out, local_tree)
