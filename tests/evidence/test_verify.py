"""A verifiable run: run.json, MANIFEST.sha256 and `deal verify`, which passes on a fresh run and fails,
naming the file, when one output byte, one input byte or the manifest changes; --rerun re-analyses inputs
and finds byte-identical outputs."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from deal.cli.main import main
from deal.fileio import sha256_file
from deal.runs import verify_run
from deal.runs.manifest import read_manifest
from tests.inference.conftest import save_image


def cli(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def fresh(tmp_path_factory, detector_file) -> tuple[Path, Path]:
    """(input folder, run folder) of one run over five images, kept pristine: tests work on copies."""
    root = tmp_path_factory.mktemp("evidence")
    src = root / "in"
    for i in range(4):
        save_image(src / f"img{i}.jpg", 64, 80 + 8 * i, i, quality=90)
    save_image(src / "sub" / "p.png", 48, 48, 9)
    out = root / "run"
    cwd = os.getcwd()
    os.chdir(root)  # inputs given relative to the working folder, as an examiner would
    try:
        rc, _, err = cli(
            "detect", "in", "--out", out, "--detector", detector_file, "--device", "cpu", "--batch-size", "2",
            "--workers", "1", "--report", "html", "--case", "C-17", "--examiner", "A. Analyst", "--note", "seized",
        )  # fmt: skip
    finally:
        os.chdir(cwd)
    assert rc == 0, err
    manifest_sha = sha256_file(out / "MANIFEST.sha256")
    assert f"MANIFEST.sha256 sha256 {manifest_sha}" in err
    return src, out


@pytest.fixture
def run(fresh, tmp_path) -> tuple[Path, Path]:
    """A copy of the fresh run and its inputs (same relative layout; the manifest's input paths rewritten
    to the copy's, as a run made there would have them)."""
    src, out = fresh
    src2, out2 = tmp_path / "in", tmp_path / "run"
    shutil.copytree(src, src2)
    shutil.copytree(out, out2)
    text = (out2 / "MANIFEST.sha256").read_text().replace(str(src.parent.resolve()), str(tmp_path.resolve()))
    (out2 / "MANIFEST.sha256").write_text(text)
    info = json.loads((out2 / "run.json").read_text())
    info["cwd"] = str(tmp_path.resolve())
    (out2 / "run.json").write_text(json.dumps(info, indent=2) + "\n")
    _reseal(out2, "run.json")
    return src2, out2


def _reseal(out: Path, rel: str) -> None:
    """Rewrites the manifest's line of `rel` with the file's current sha256 (as a forger would)."""
    lines = []
    for line in (out / "MANIFEST.sha256").read_text().splitlines():
        digest, name = line.split("  ", 1)
        lines.append(f"{sha256_file(out / rel) if name == rel else digest}  {name}")
    (out / "MANIFEST.sha256").write_text("\n".join(lines) + "\n")


def _flip(path: Path, offset: int = 40) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_run_json_records_the_run_and_the_manifest_lists_every_file(fresh, detector_file):
    src, out = fresh
    info = json.loads((out / "run.json").read_text())
    assert info["case"] == {"case_id": "C-17", "examiner": "A. Analyst", "note": "seized"}
    assert (
        info["detector"]["sha256"] == sha256_file(detector_file) and info["detector"]["name"] == "test-tiny"
    )
    assert info["thresholds"]["verdict_rule"].startswith(
        "verdict is edited when score >= image_threshold_high"
    )
    assert info["options"]["batch_size"] == 2 and info["options"]["save"] == [
        "heatmap",
        "mask",
        "overlay",
        "json",
    ]
    assert info["platform"]["torch"] == torch.__version__ and info["inference"]["device"] == "cpu"
    assert "started" not in json.dumps(info)  # times live in run_times.json
    assert set(json.loads((out / "run_times.json").read_text())) == {"started", "ended"}
    entries, problems = read_manifest(out / "MANIFEST.sha256")
    assert problems == []
    listed = {e.path for e in entries}
    assert "run.json" in listed and "results.jsonl" in listed and "report.html" in listed
    assert "run_times.json" not in listed and "MANIFEST.sha256" not in listed and ".deal/lock" not in listed
    assert {e.path for e in entries if e.is_input} == {str(p.resolve()) for p in src.rglob("*.*")}
    if shutil.which("sha256sum"):  # the format is sha256sum's: it checks the run too
        assert subprocess.run(["sha256sum", "-c", "--quiet", "MANIFEST.sha256"], cwd=out).returncode == 0


def test_run_json_is_the_same_bytes_when_the_command_is_rerun(fresh, detector_file):
    src, out = fresh
    before = (out / "run.json").read_bytes()
    copy = out.parent / "again"
    shutil.copytree(out, copy)
    cwd = os.getcwd()
    os.chdir(src.parent)
    try:
        rc, _, err = cli(
            "detect", "in", "--out", out, "--detector", detector_file, "--device", "cpu", "--batch-size", "2",
            "--workers", "1", "--report", "html", "--case", "C-17", "--examiner", "A. Analyst", "--note",
            "seized", "--quiet",
        )  # fmt: skip
    finally:
        os.chdir(cwd)
    assert rc == 0, err
    assert (out / "run.json").read_bytes() == before
    assert (out / "MANIFEST.sha256").read_bytes() == (copy / "MANIFEST.sha256").read_bytes()  # all skipped
    assert cli("verify", out)[0] == 0


def test_verify_passes_on_a_fresh_run(run):
    _, out = run
    rc, stdout, err = cli("verify", out)
    assert rc == 0 and stdout == "", err
    # 5 inputs x (4 outputs + a thumbnail + 4 view panels) + results.jsonl, results.csv, report.html, run.json
    assert "OK; 49 files and 5 inputs checked" in err


def test_one_output_byte_changed_fails_naming_the_file(run):
    _, out = run
    _flip(out / "img2.jpg.heatmap.png")
    rc, stdout, _ = cli("verify", out)
    assert rc == 1
    assert stdout.splitlines() == [stdout.splitlines()[0]] and stdout.startswith(
        "img2.jpg.heatmap.png: file changed"
    )


def test_one_input_byte_changed_fails_naming_the_input(run):
    src, out = run
    _flip(src / "sub" / "p.png", 60)
    rc, stdout, _ = cli("verify", out)
    assert rc == 1 and stdout.startswith(f"{(src / 'sub' / 'p.png').resolve()}: input changed")


def test_a_changed_manifest_fails(run):
    _, out = run
    manifest = out / "MANIFEST.sha256"
    text = manifest.read_text()
    lines = text.splitlines()
    # A hash edited: the file it names no longer matches.
    i = next(n for n, line in enumerate(lines) if line.endswith("  img1.jpg.mask.png"))
    forged = lines[:i] + ["0" * 64 + "  img1.jpg.mask.png"] + lines[i + 1 :]
    manifest.write_text("\n".join(forged) + "\n")
    rc, stdout, _ = cli("verify", out)
    assert rc == 1 and stdout.startswith("img1.jpg.mask.png: file changed")
    # A line removed: the file is in the run folder but not listed (and results.jsonl names it).
    manifest.write_text("\n".join(lines[:i] + lines[i + 1 :]) + "\n")
    rc, stdout, _ = cli("verify", out)
    assert rc == 1 and "img1.jpg.mask.png: in the run folder but not in MANIFEST.sha256" in stdout
    # A line that is not a sha256sum line.
    manifest.write_text(text + "not a line\n")
    rc, stdout, _ = cli("verify", out)
    assert rc == 1 and f"MANIFEST.sha256 line {len(lines) + 1}: not a '<sha256>  <path>' line" in stdout
    # The manifest's own hash, noted when the run ended.
    manifest.write_text(text)
    assert cli("verify", out, "--manifest-sha256", sha256_file(manifest))[0] == 0
    rc, stdout, _ = cli("verify", out, "--manifest-sha256", "0" * 64)
    assert rc == 1 and "MANIFEST.sha256: its sha256 is not the one given" in stdout


def test_an_added_file_fails_and_a_missing_input_is_only_a_note(run):
    src, out = run
    (src / "img0.jpg").unlink()
    rc, stdout, err = cli("verify", out)
    assert rc == 0 and f"note: {(src / 'img0.jpg').resolve()}: input not present, not checked" in err
    (out / "extra.txt").write_text("added later")
    rc, stdout, _ = cli("verify", out)
    assert rc == 1 and stdout.splitlines() == ["extra.txt: in the run folder but not in MANIFEST.sha256"]


def test_rerun_confirms_byte_identical_outputs(run):
    _, out = run
    rc, stdout, err = cli("verify", out, "--rerun", "2", "--seed", "0")
    assert rc == 0, stdout + err
    assert err.count("note: re-analysed ") == 2 and "2 inputs re-analysed" in err


def test_rerun_finds_an_output_that_the_detector_does_not_produce(run):
    _, out = run
    # A forged heatmap whose manifest line was forged too: the hashes hold, only a rerun can tell.
    records = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    for r in records:
        _flip(out / r["outputs"]["heatmap"], 60)
        _reseal(out, r["outputs"]["heatmap"])
    assert verify_run(out).ok
    result = verify_run(out, rerun=1, seed=1)
    assert result.reanalysed == 1
    assert len(result.problems) == 1 and result.problems[0].endswith("heatmap output is not byte-identical")


def test_other_trust_anchors_redo_the_inputs_and_the_run_still_verifies(run, detector_file):
    from tests.provenance.builders import make_chain

    src, out = run
    anchors = src.parent / "anchors.pem"
    anchors.write_bytes(make_chain().root_pem)
    args = ["detect", "in", "--out", out, "--detector", detector_file, "--device", "cpu", "--batch-size", "2"]
    cwd = os.getcwd()
    os.chdir(src.parent)
    try:
        rc, _, err = cli(*args, "--workers", "1", "--report", "html", "--trust-anchors", anchors)
    finally:
        os.chdir(cwd)
    assert rc == 0 and "already done" not in err  # provenance read with other anchors: every input redone
    records = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert {r["provenance"]["c2pa"]["trust_anchors_sha256"] for r in records} == {sha256_file(anchors)}
    assert cli("verify", out)[0] == 0
    rc, stdout, _ = cli("verify", out, "--rerun", "1", "--seed", "0")
    assert rc == 1 and "give the same PEM file again (--trust-anchors)" in stdout
    assert cli("verify", out, "--rerun", "1", "--seed", "0", "--trust-anchors", anchors)[0] == 0
