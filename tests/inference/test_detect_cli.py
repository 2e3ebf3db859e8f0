"""`deal detect` end to end: outputs, bad inputs, exit codes, resume after a kill, the HTML report."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from deal.cli.main import main
from tests.inference.chromium import Browser, chromium_available
from tests.inference.conftest import REPO_ROOT, save_image, smooth_image


def run_cli(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main(["detect", *map(str, argv)])
    return rc, err.getvalue()


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under root (relative posix path -> bytes), records and results minus `seconds`."""
    out = {}
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.name == "lock":
            continue
        if p.parent == root and p.name in ("run.json", "run_times.json", "MANIFEST.sha256"):
            continue  # the run's own record: its options (--out), times and the hashes of records with `seconds`
        rel = p.relative_to(root).as_posix()
        data = p.read_bytes()
        if p.suffix == ".json":
            record = json.loads(data)
            record.pop("seconds")
            data = json.dumps(record).encode()
        elif p.name == "results.jsonl":
            data = "\n".join(
                json.dumps({k: v for k, v in json.loads(x).items() if k != "seconds"})
                for x in data.decode().splitlines()
            ).encode()
        elif p.name == "results.csv":
            rows = [line.split(",") for line in data.decode().splitlines()]
            col = rows[0].index("seconds")
            data = "\n".join(",".join(r[:col] + r[col + 1 :]) for r in rows).encode()
        out[rel] = data
    return out


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory, detector_file):
    """One run over good images and every kind of bad input (module-scoped: several tests read it)."""
    root = tmp_path_factory.mktemp("bad")
    src = root / "in"
    save_image(src / "good1.png", 48, 64, 1)
    save_image(src / "sub" / "good2.jpg", 64, 40, 2, quality=90)
    (src / "empty.jpg").write_bytes(b"")
    (src / "notes.png").write_text("not an image")
    Image.fromarray(smooth_image(40, 40, 3)).save(src / "truncated.png")
    (src / "truncated.png").write_bytes((src / "truncated.png").read_bytes()[:200])
    save_image(src / "huge.png", 80, 80, 4)  # over --max-pixels 5000
    save_image(src / "locked.png", 32, 32, 5)
    (src / "readme.txt").write_text("ignored: not an image extension")
    out = root / "out"
    real_read_bytes = Path.read_bytes

    def read_bytes(self):  # the tests run as root, who may read a chmod 000 file: simulate the denial
        if self.name == "locked.png":
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_bytes(self)

    mp = pytest.MonkeyPatch()
    mp.setattr(Path, "read_bytes", read_bytes)
    try:
        rc, err = run_cli(
            src,
            root / "missing.jpg",
            "--out",
            out,
            "--detector",
            detector_file,
            "--device",
            "cpu",
            "--max-pixels",
            "5000",
            "--report",
            "html",
            "--batch-size",
            "2",
            "--workers",
            "1",
        )
    finally:
        mp.undo()
    return rc, err, src, out


def test_bad_inputs_are_reported_and_the_run_goes_on(bad_run):
    rc, err, src, out = bad_run
    assert rc == 1
    records = {Path(r["path"]).name: r for r in read_jsonl(out / "results.jsonl")}
    assert "readme.txt" not in records
    expected = {
        "empty.jpg": "empty file (0 bytes)",
        "notes.png": "not an image",
        "truncated.png": "corrupt or truncated",
        "huge.png": "over the limit of 5,000",
        "locked.png": "permission denied",
        "missing.jpg": "no such file",
    }
    for name, problem in expected.items():
        message = records[name]["error"]
        assert name in message and problem in message, message
        assert f"error: {message}" in err  # and on stderr
        assert records[name]["outputs"] == {}
    for name, (h, w) in {"good1.png": (48, 64), "good2.jpg": (64, 40)}.items():
        r = records[name]
        assert r["error"] is None and (r["height"], r["width"]) == (h, w)
        assert r["verdict"] == ("edited" if r["score"] >= r["threshold"] else "authentic")
        assert r["detector"]["name"] == "test-tiny" and len(r["detector"]["sha256"]) == 64
        heat = np.asarray(Image.open(out / r["outputs"]["heatmap"]))
        mask = np.asarray(Image.open(out / r["outputs"]["mask"]))
        assert heat.shape == (h, w) and heat.dtype == np.uint8 and set(np.unique(mask)) <= {0, 255}
        assert np.array_equal(mask == 255, heat >= 128)  # p >= 0.5 <=> round(255 p) >= 128
        assert json.loads((out / r["outputs"]["json"]).read_text()) == r
    assert records["good2.jpg"]["outputs"]["heatmap"] == "sub/good2.jpg.heatmap.png"  # mirrors in/
    assert "deal detect: 8 images: " in err and "7 failed" not in err and "6 failed" in err  # the summary line


def test_outputs_match_the_python_api(detector, tmp_path, monkeypatch):
    import deal.runs.run

    monkeypatch.setattr(deal.runs.run, "_MIN_RESULTS_INTERVAL", 0.0)  # interim results too
    src = tmp_path / "in"
    a = save_image(src / "a" / "photo.png", 40, 56, 7)
    save_image(src / "b" / "photo.png", 40, 56, 8)  # same name, another folder
    save_image(src / "a" / "photo.jpg", 40, 56, 9)  # same stem, another extension
    rc, _ = run_cli(
        src,
        "--out",
        tmp_path / "out",
        "--detector",
        detector.info.path,
        "--device",
        "cpu",
        "--save",
        "heatmap,mask,npz",
        "--quiet",
    )
    assert rc == 0
    out = tmp_path / "out"
    names = sorted(
        p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and ".deal" not in p.parts
    )
    assert names == [
        "MANIFEST.sha256",
        "a/photo.jpg.heatmap.png",
        "a/photo.jpg.mask.png",
        "a/photo.jpg.npz",
        "a/photo.png.heatmap.png",
        "a/photo.png.mask.png",
        "a/photo.png.npz",
        "b/photo.png.heatmap.png",
        "b/photo.png.mask.png",
        "b/photo.png.npz",
        "results.csv",
        "results.jsonl",
        "run.json",
        "run_times.json",
    ]
    d = detector.predict(a)
    record = next(r for r in read_jsonl(out / "results.jsonl") if r["path"] == str(a))
    assert d.provenance == record["provenance"] and d.provenance["metadata"]["format"] == "PNG"
    npz = np.load(out / "a/photo.png.npz")
    np.testing.assert_allclose(npz["map"], d.heatmap, rtol=0, atol=1e-5)
    assert npz["map"].dtype == np.float32 and tuple(npz["imgsize"]) == (40, 56)
    assert float(npz["score"]) == pytest.approx(d.score, abs=1e-6)
    # Regions: the record's counts are those of its own map (specks under the minimum area dropped, counted).
    from deal.inference.regions import MIN_REGION_FRACTION, find_regions

    regions, n_regions, n_dropped = find_regions(npz["map"], npz["map"] > record["threshold"])
    assert (record["regions"], record["n_regions"], record["n_regions_dropped"]) == (regions, n_regions, n_dropped)
    assert record["region_min_fraction"] == MIN_REGION_FRACTION
    heat = np.asarray(Image.open(out / "a/photo.png.heatmap.png"))
    assert np.abs(heat.astype(int) - np.rint(255 * d.heatmap)).max() <= 1
    rows = (out / "results.csv").read_text().splitlines()
    assert len(rows) == 4 and rows[0].startswith("path,sha256,bytes,width,height,score,verdict")
    row = next(r for r in csv.DictReader((out / "results.csv").open(encoding="utf-8")) if r["path"] == str(a))
    assert (row["regions"], row["regions_dropped"]) == (str(n_regions), str(n_dropped))
    # Without "json" in --save the records live under .deal/records, and a rerun skips everything.
    rc, err = run_cli(
        src, "--out", out, "--detector", detector.info.path, "--device", "cpu", "--save", "heatmap,mask,npz"
    )
    assert rc == 0 and "(3 already done)" in err
    first = (out / "results.jsonl").read_text()
    rc, err = run_cli(
        src,
        "--out",
        out,
        "--detector",
        detector.info.path,
        "--device",
        "cpu",
        "--save",
        "heatmap,mask,npz",
        "--overwrite",
    )
    assert rc == 0 and "already done" not in err
    strip = [{k: v for k, v in json.loads(x).items() if k != "seconds"} for x in first.splitlines()]
    assert [
        {k: v for k, v in r.items() if k != "seconds"} for r in read_jsonl(out / "results.jsonl")
    ] == strip


def test_usage_errors_exit_2(detector_file, tmp_path):
    (tmp_path / "empty").mkdir()
    save_image(tmp_path / "x.png", 16, 16, 0)
    base = ["--out", tmp_path / "out", "--detector", detector_file, "--device", "cpu"]
    rc, err = run_cli(tmp_path / "empty", *base)
    assert rc == 2 and "no images" in err
    rc, err = run_cli(tmp_path / "x.png", *base[:-2], "--save", "heatmap,gif")
    assert rc == 2 and "choose from heatmap,mask,overlay,npz,json" in err
    rc, err = run_cli(
        tmp_path / "x.png", "--out", tmp_path / "o", "--detector", tmp_path / "nope.safetensors"
    )
    assert rc == 2 and "nope.safetensors" in err
    rc, err = run_cli(tmp_path / "x.png", *base, "--threshold", "1.5")
    assert rc == 2 and "--threshold" in err
    from deal.runs.lock import RunLock as _Lock

    with _Lock(tmp_path / "out"):  # another run holds the output folder
        rc, err = run_cli(tmp_path / "x.png", *base)
    assert rc == 2 and "another deal detect run is writing to" in err


@pytest.mark.slow  # kills and resumes a run: ~10 s
def test_kill_then_resume_is_byte_identical(detector_file, tmp_path):
    src = tmp_path / "in"
    for i in range(6):
        save_image(src / f"d{i % 2}" / f"img{i}.jpg", 64 + 8 * (i % 3), 120, 10 + i, quality=92)
    args = [
        "detect",
        str(src),
        "--detector",
        str(detector_file),
        "--device",
        "cpu",
        "--batch-size",
        "2",
        "--workers",
        "1",
        "--save",
        "heatmap,mask,overlay,npz,json",
        "--report",
        "html",
        "--quiet",
    ]
    killed = tmp_path / "killed"
    # CPU float sums depend on the thread count: the killed run must use this process's, like a real rerun.
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), OMP_NUM_THREADS=str(torch.get_num_threads()))
    proc = subprocess.Popen([sys.executable, "-m", "deal.cli.main", *args, "--out", str(killed)], env=env)
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None and not list(killed.rglob("*.json")):
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_at_kill = len(list(killed.rglob("*.json")))
    print(f"killed after {done_at_kill} of 6 records")
    assert done_at_kill, "the run wrote nothing before it was killed"
    # Whatever the kill interrupted, also damage the folder the way a crash would: a stray temporary
    # file, and an image whose outputs are incomplete (its heatmap gone).
    (killed / "d0" / ".img0.jpg.heatmap.png.abcd1234.part").write_bytes(b"partial")
    victim = next(killed.rglob("*.heatmap.png"))
    victim.unlink()
    rc, _ = run_cli(*args[1:], "--out", killed)
    assert rc == 0
    clean = tmp_path / "clean"
    rc, _ = run_cli(*args[1:], "--out", clean)
    assert rc == 0
    got, want = tree_bytes(killed), tree_bytes(clean)
    assert sorted(got) == sorted(want)
    assert not [p for p in got if p.endswith(".part")]
    different = [p for p in want if got[p] != want[p]]
    assert different == []
    assert len(read_jsonl(clean / "results.jsonl")) == 6


def test_html_report_renders_thumbnails_offline(bad_run):
    if not chromium_available():
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it)")
    _, _, _, out = bad_run
    html = (out / "report.html").read_text()
    assert "data:image/jpeg;base64," in html and "http://" not in html and "https://" not in html
    assert "6 failed" in html and "permission denied" in html
    assert "2 images" not in html and "8 images: " in html
    with Browser(1200, 900) as browser:
        browser.open((out / "report.html").resolve().as_uri())
        thumbs = browser.evaluate(
            "[...document.querySelectorAll('td.thumb img')].map(i => {const r = i.getBoundingClientRect();"
            " return {w: i.naturalWidth, x: r.x, y: r.y, width: r.width, height: r.height};})"
        )
        shot = np.asarray(Image.open(io.BytesIO(browser.screenshot())).convert("RGB")).astype(float)
    assert len(thumbs) == 2 and all(t["w"] > 0 for t in thumbs)
    # The thumbnails are pictures (high variance), unlike the text and white page around them.
    t = thumbs[0]
    x, y = round(t["x"]), round(t["y"])
    assert y + t["height"] <= shot.shape[0]
    area = shot[y : y + round(t["height"]), x : x + round(t["width"])]
    assert area.std() > 20


def test_ray_engine_without_ray_is_one_sentence(detector_file, tmp_path, monkeypatch):
    save_image(tmp_path / "x.png", 16, 16, 0)
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray now raises ImportError
    base = [tmp_path / "x.png", "--out", tmp_path / "out", "--detector", detector_file, "--device", "cpu"]
    rc, err = run_cli(*base, "--engine", "ray")
    assert rc == 2
    assert err.strip().splitlines() == [
        'deal detect: error: the Ray engine needs Ray: pip install "deal-forensics[ray]" (or pip install "ray>=2.9")'
    ]
    rc, err = run_cli(*base, "--address", "auto")
    assert rc == 2 and "--address and --gpus-per-worker need --engine ray" in err


def test_detect_says_when_the_detector_can_never_say_authentic(tmp_path):
    """A detector whose image_threshold_low is 0 (the bundled one until its calibration reached a threshold):
    detect says so in one sentence on stderr, and the report's legend carries the same sentence
    (deal.metrics.image_score.detector_verdict_limitation); the bundled detector can say authentic and
    detect says nothing of the kind."""
    from deal.inference.detector import Detector
    from deal.metrics.image_score import detector_verdict_limitation
    from deal.modeling.detector_file import read_detector_info, save_detector

    bundled = Detector.load(device="cpu")
    assert bundled.image_thresholds[0] > 0.0 and detector_verdict_limitation(bundled.image_thresholds, bundled.info) is None
    never = save_detector(tmp_path / "never.safetensors", bundled.model, name="never", threshold=bundled.threshold,
                          image_thresholds=(0.0, 0.9), verdict_precision=0.9, precision_reached=False)  # fmt: skip
    save_image(tmp_path / "in" / "a.png", 48, 64, 1)
    rc, err = run_cli(tmp_path / "in", "--out", tmp_path / "out", "--device", "cpu", "--workers", "0", "--report", "html",
                      "--detector", never)  # fmt: skip
    assert rc == 0
    sentence = detector_verdict_limitation((0.0, 0.9), read_detector_info(never))
    assert sentence.startswith("This detector can never say authentic")
    assert f"deal detect: note: {sentence}\n" in err
    rc, err = run_cli(tmp_path / "in", "--out", tmp_path / "out2", "--device", "cpu", "--workers", "0")
    assert rc == 0 and "can never say authentic" not in err
    from html import escape

    assert escape(sentence, quote=True) in (tmp_path / "out" / "report.html").read_text()
