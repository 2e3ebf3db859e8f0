"""Images below the minimum analysable size (deal.imageio, the one decoder) are analysed, and say so: in
the API's Detection and in deal detect's record."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
from PIL import Image

from deal.cli.main import main
from deal.imageio import MIN_ANALYSABLE_SIDE, small_image_notes
from deal.modeling.config import ENCODER_SPECS


def test_the_minimum_is_one_encoder_patch_of_every_encoder():
    assert {spec.patch_size for spec in ENCODER_SPECS.values()} == {MIN_ANALYSABLE_SIDE}


def test_note_below_the_minimum_only():
    assert small_image_notes(16, 16) == [] and small_image_notes(4000, 16) == []
    (note,) = small_image_notes(1, 1)
    assert note.startswith("image is 1x1: below the minimum analysable size (16 px a side")
    assert small_image_notes(15, 300)[0].startswith("image is 300x15:")


def test_api_and_detect_record_carry_the_note(detector, detector_file, tmp_path):
    tiny = np.full((1, 1, 3), 200, np.uint8)
    detection = detector.predict(tiny)
    assert detection.notes == small_image_notes(1, 1) and detection.verdict in ("edited", "inconclusive", "authentic")
    assert detector.predict(np.zeros((32, 32, 3), np.uint8)).notes == []

    Image.fromarray(tiny).save(tmp_path / "dot.png")
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(tmp_path / "square.png")
    out = tmp_path / "out"
    args = [str(tmp_path / "dot.png"), str(tmp_path / "square.png"), "--out", str(out)]
    assert main(["detect", *args, "--detector", str(detector_file), "--device", "cpu", "--quiet"]) == 0
    records = {json.loads(line)["path"].rsplit("/", 1)[-1]: json.loads(line) for line in open(out / "results.jsonl")}
    assert records["dot.png"]["notes"] == small_image_notes(1, 1) and records["dot.png"]["error"] is None
    assert records["square.png"]["notes"] == []
    # every file the run wrote has the usual permissions (0644 under umask 022)
    umask = os.umask(0)
    os.umask(umask)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.rglob("*") if p.is_file()}
    assert modes and set(modes.values()) == {0o666 & ~umask}, modes
