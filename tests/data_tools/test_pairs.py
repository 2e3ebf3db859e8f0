"""Tests of ``deal data pairs`` (deal_data_tools.pairs): pairing rules, the mask method, IoU on real fixtures."""

from __future__ import annotations

import argparse
import csv
import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from deal_data_tools.pairs import (
    PAIRS_COLUMNS,
    MaskParams,
    add_arguments,
    analyze_pair,
    derive_mask,
    derive_masks,
    match_pairs,
    read_pairs_csv,
    run,
)
from deal_data_tools.synthesis.io import encode_png, read_mask
from PIL import Image

from tests.conftest import require_shared

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
COCOGLIDE = SHARED_DATA / "fixtures" / "CocoGlide"
DEAL300K = SHARED_DATA / "fixtures" / "DEAL-300K"


def _iou(pred: np.ndarray, gt: np.ndarray) -> float:
    union = np.logical_or(pred, gt).sum()
    return float(np.logical_and(pred, gt).sum() / union) if union else 1.0


def _scene(seed: int = 0, size: int = 96) -> np.ndarray:
    """A synthetic photo: gradients, low-frequency shapes and fine texture, ``size x size x 3`` uint8."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    coarse = cv2.resize(
        rng.normal(0, 25, (8, 8, 3)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC
    )
    fine = rng.normal(0, 12, (size, size, 3))
    base = np.stack([120 + 80 * xx, 100 + 60 * yy, 140 - 50 * xx * yy], axis=2) + coarse + fine
    return np.clip(base, 0, 255).astype(np.uint8)


def _disc(size: int = 96, centre: tuple[int, int] = (60, 40), radius: int = 18) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    cv2.circle(mask, centre, radius, 1, -1)
    return mask


def test_regenerated_background_is_told_from_the_edit() -> None:
    """InstructPix2Pix-like pair: every pixel re-rendered (blur, 1 px shift, noise), one object recoloured."""
    original = _scene()
    rng = np.random.default_rng(1)
    edited = cv2.GaussianBlur(original, (0, 0), 0.7).astype(np.float32)
    edited = np.roll(edited, 1, axis=1) + rng.normal(0, 4.0, edited.shape)
    gt = _disc().astype(bool)
    edited[gt] = edited[gt] * 0.6 + np.array([200, 40, 60]) * 0.4
    edited = np.clip(np.rint(edited), 0, 255).astype(np.uint8)
    analysis = analyze_pair(original, edited)
    assert analysis.mask.dtype == np.uint8 and set(np.unique(analysis.mask)) == {0, 1}
    assert _iou(analysis.mask.astype(bool), gt) > 0.9
    assert analysis.background < analysis.threshold
    np.testing.assert_array_equal(derive_mask(original, edited), analysis.mask)
    # why the difference is smoothed first: without it the re-rendered texture swamps the edit
    assert _iou(derive_mask(original, edited, sigma=0).astype(bool), gt) < 0.5


def test_identical_images_give_an_empty_mask_and_sizes_are_aligned() -> None:
    original = _scene(2)
    assert derive_mask(original, original).sum() == 0
    edited = cv2.resize(original, (64, 64), interpolation=cv2.INTER_AREA)
    edited[10:30, 20:40] = (250, 250, 0)
    analysis = analyze_pair(original, edited)
    assert analysis.resized and analysis.mask.shape == (64, 64)
    box = np.zeros((64, 64), bool)
    box[10:30, 20:40] = True
    assert _iou(analysis.mask.astype(bool), box) > 0.95  # the raw difference keeps the outline sharp
    assert _iou(derive_mask(original, edited, refine=0).astype(bool), box) < 0.9  # smoothing alone widens it
    with pytest.raises(ValueError, match="min_area"):
        MaskParams(min_area=1.5)


def test_match_pairs_rules(tmp_path: Path) -> None:
    o, e = tmp_path / "orig", tmp_path / "edit"
    originals = [
        o / "000000000009.jpg",
        o / "cow_133778.png",
        o / "kite_450439.png",
        o / "a.png",
        o / "x_7.png",
        o / "y_7.png",
    ]
    edited = [
        e / "a.png",  # same stem
        e / "000000000009_qwen120.jpg",  # stem + suffix
        e / "glide_inpainting_val2017_133778_up.png",  # numeric id
        e / "000000450439-v2.png",  # prefix fails (no such stem), id 450439 matches kite
        e / "z_7.png",  # id 7 names two originals
        e / "nothing.png",
    ]
    pairs, unmatched = match_pairs(originals, edited)
    got = {p.edited.name: p.original.name for p in pairs}
    assert got == {
        "a.png": "a.png",
        "000000000009_qwen120.jpg": "000000000009.jpg",
        "glide_inpainting_val2017_133778_up.png": "cow_133778.png",
        "000000450439-v2.png": "kite_450439.png",
    }
    assert [p.out for p in pairs][:2] == ["a.png", "000000000009_qwen120.png"]
    reasons = {path.name: reason for path, reason in unmatched}
    assert set(reasons) == {"z_7.png", "nothing.png"} and "ambiguous" in reasons["z_7.png"]
    # one folder holding originals and edits: nothing pairs with itself, originals are not reported
    same = [o / "000000000009.jpg", o / "000000000009_qwen120.jpg", o / "000000000459_qwen120.jpg"]
    pairs, unmatched = match_pairs(same, same)
    assert [(p.original.name, p.edited.name) for p in pairs] == [
        ("000000000009.jpg", "000000000009_qwen120.jpg")
    ]
    assert [path.name for path, _ in unmatched] == ["000000000459_qwen120.jpg"]


def _write_pair_folders(root: Path) -> tuple[Path, Path, np.ndarray]:
    src, edited = root / "src", root / "edited"
    src.mkdir()
    edited.mkdir()
    original = _scene(3)
    changed = original.copy()
    gt = _disc()
    changed[gt > 0] = (30, 200, 90)
    (src / "photo_12.png").write_bytes(encode_png(original))
    (edited / "photo_12_edit.png").write_bytes(encode_png(changed))
    return src, edited, gt


def test_pairs_csv_and_outputs(tmp_path: Path) -> None:
    src, edited, gt = _write_pair_folders(tmp_path)
    table = tmp_path / "pairs_in.csv"
    table.write_text("original,edited,out\nphoto_12.png,photo_12_edit.png,sub/m.png\n")
    assert read_pairs_csv(table, src, edited)[0].original == src / "photo_12.png"
    rows = derive_masks(src, edited, tmp_path / "out", pairs_csv=table, workers=1, progress=False)
    assert [r["status"] for r in rows] == ["ok"]
    with Image.open(tmp_path / "out" / "sub" / "m.png") as pil:
        assert pil.mode == "L" and set(np.unique(np.asarray(pil))) == {0, 255}
        assert _iou(np.asarray(pil) > 127, gt > 0) > 0.95
    with open(tmp_path / "out" / "pairs.csv", newline="") as f:
        assert tuple(csv.DictReader(f).fieldnames or ()) == PAIRS_COLUMNS
    table.write_text("source,edited\nphoto_12.png,photo_12_edit.png\n")
    with pytest.raises(ValueError, match="pairs_in.csv: missing column"):
        read_pairs_csv(table)


def test_cli_run(tmp_path: Path) -> None:
    from deal.cli.main import UsageError

    src, edited, gt = _write_pair_folders(tmp_path)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    out = tmp_path / "masks"
    assert (
        run(
            parser.parse_args(
                ["--src", str(src), "--edited", str(edited), "--out", str(out), "--workers", "1"]
            )
        )
        == 0
    )
    assert _iou(read_mask(out / "photo_12_edit.png").astype(bool), gt > 0) > 0.95
    (edited / "stranger.png").write_bytes(encode_png(_scene(4)))
    assert (
        run(
            parser.parse_args(
                ["--src", str(src), "--edited", str(edited), "--out", str(out), "--workers", "1"]
            )
        )
        == 1
    )
    with pytest.raises(UsageError, match="--pairs"):
        run(parser.parse_args(["--src", str(src), "--out", str(out)]))


def _report(title: str, ious: dict[str, float], capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        print(f"\n{title}: mean IoU {np.mean(list(ious.values())):.3f} over {len(ious)} pairs")
        for name, value in ious.items():
            print(f"  {value:.3f}  {name}")


def test_cocoglide_iou(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_shared("fixtures", "CocoGlide")
    rows = derive_masks(COCOGLIDE / "real", COCOGLIDE / "fake", tmp_path / "w1", workers=1, progress=False)
    assert len(rows) == 16 and all(r["status"] == "ok" and r["resized"] == "0" for r in rows)  # all 256x256
    ious = {}
    for gt_path in sorted((COCOGLIDE / "mask").glob("*_mask.png")):
        stem = gt_path.stem.removesuffix("_mask")
        pred = read_mask(tmp_path / "w1" / f"glide_inpainting_val2017_{stem.rsplit('_', 1)[1]}_up.png")
        ious[stem] = _iou(pred.astype(bool), read_mask(gt_path).astype(bool))
    _report("CocoGlide dev subset", ious, capsys)
    assert np.mean(list(ious.values())) >= 0.85
    # two workers write the same bytes
    derive_masks(COCOGLIDE / "real", COCOGLIDE / "fake", tmp_path / "w2", workers=2, progress=False)
    for path in sorted((tmp_path / "w1").glob("*.png")):
        assert (
            hashlib.sha256(path.read_bytes()).digest()
            == hashlib.sha256((tmp_path / "w2" / path.name).read_bytes()).digest()
        )


def test_deal300k_iou(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_shared("fixtures", "DEAL-300K")
    train = DEAL300K / "train"
    rows = derive_masks(
        train, train, tmp_path, workers=1, progress=False
    )  # originals and edits in one folder
    assert sorted(r["mask"] for r in rows) == [
        f"{i}_qwen120.png" for i in ("000000000009", "000000000459", "000000436603")
    ]
    assert all(r["status"] == "ok" for r in rows)
    ious = {}
    for gt_path in sorted((DEAL300K / "label").glob("*.png")):
        ious[gt_path.stem] = _iou(
            read_mask(tmp_path / gt_path.name).astype(bool), read_mask(gt_path).astype(bool)
        )
    _report("DEAL-300K fixture", ious, capsys)
    assert np.mean(list(ious.values())) >= 0.4
