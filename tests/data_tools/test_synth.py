"""Tests of ``deal data synth`` (deal_data_tools.synth): determinism, masks, manifest, resume, CLI."""

from __future__ import annotations

import argparse
import csv
import hashlib
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from deal_data_tools.synth import (
    MANIFEST_COLUMNS,
    SynthConfig,
    add_arguments,
    is_authentic,
    make_edited_example,
    parse_weights,
    reproduce_example,
    run,
    sample_photos,
    synthesize_dataset,
    synthesize_example,
)
from deal_data_tools.synthesis.edits import EDIT_NAMES, apply_edit
from deal_data_tools.synthesis.io import encode_png, read_mask, read_rgb
from deal_data_tools.synthesis.shapes import SHAPE_NAMES, random_region
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

N, SIZE, SEED = 6, 128, 11


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """BSDS500 + Kodak from ../shared/data/natural, or scikit-image's sample photos written as PNGs."""
    natural = SHARED_DATA / "natural"
    if natural.is_dir():
        return natural
    folder = tmp_path_factory.mktemp("photos")
    for name, photo in sample_photos():
        (folder / f"{name}.png").write_bytes(encode_png(photo))
    return folder


@pytest.fixture(scope="module")
def dataset(photos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth_w1")
    synthesize_dataset(photos, out, N, seed=SEED, size=SIZE, workers=1, progress=False)
    return out


def _hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _manifest(root: Path) -> list[dict[str, str]]:
    with open(root / "manifest.csv", newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == MANIFEST_COLUMNS
        return list(reader)


def test_same_seed_same_bytes_for_any_worker_count(photos: Path, dataset: Path, tmp_path: Path) -> None:
    synthesize_dataset(photos, tmp_path, N, seed=SEED, size=SIZE, workers=2, progress=False)
    first, second = _hashes(dataset), _hashes(tmp_path)
    assert len(first) == 3 * N + 5 + 1  # images, masks, records, the 5 edited images' originals, manifest
    assert first == second


def test_manifest_and_masks(dataset: Path) -> None:
    rows = _manifest(dataset)
    assert [r["label"] for r in rows] == ["1", "1", "1", "1", "0", "1"]  # share 0.2: index 4 is authentic
    for row in rows:
        image = read_rgb(dataset / row["image"])
        with Image.open(dataset / row["mask"]) as pil:
            assert pil.mode == "L"
            raw = np.asarray(pil)
        assert set(np.unique(raw)) <= {0, 255}
        assert image.shape == (SIZE, SIZE, 3) and raw.shape == (SIZE, SIZE)
        assert (int(row["width"]), int(row["height"])) == (SIZE, SIZE)
        assert row["split"] == "" and row["source"] and (Path(row["image"]).suffix in {".png", ".jpg"})
        assert ("jpeg:" in row["edit"]) == row["image"].endswith(".jpg")
        fraction = (raw > 127).mean()
        assert float(row["edited_fraction"]) == pytest.approx(fraction, abs=1e-6)
        if row["label"] == "1":
            assert 0.01 <= fraction <= 0.60
            assert cv2.connectedComponents((raw > 127).astype(np.uint8))[0] >= 2  # >= 1 region + background
            assert "|shape:" in row["edit"]
        else:
            assert fraction == 0.0 and "shape:" not in row["edit"]


def test_edited_region_differs_from_source(photos: Path, dataset: Path) -> None:
    config = SynthConfig(size=SIZE)
    for index, row in enumerate(_manifest(dataset)):
        example = reproduce_example(photos, index, seed=SEED, config=config)
        stored = read_rgb(dataset / row["image"])
        np.testing.assert_array_equal(example.image, stored)  # the recomputation is the stored image
        np.testing.assert_array_equal(example.mask, read_mask(dataset / row["mask"]))
        change = np.abs(example.pre_jpeg.astype(np.int16) - example.base).mean(axis=2)
        mask = example.mask.astype(bool)
        if row["label"] == "1":  # the edit (before JPEG) changed the masked region, much less outside
            inside, outside = change[mask].mean(), change[~mask].mean()
            assert inside > 2.0 and inside > 4 * outside, (row["edit"], inside, outside)
        else:  # authentic: exactly the globally resized photo until JPEG
            assert change.max() == 0


def test_originals_are_the_unedited_photo_through_the_same_history(photos: Path, dataset: Path) -> None:
    config = SynthConfig(size=SIZE)
    for index, row in enumerate(_manifest(dataset)):
        if row["label"] == "0":
            assert row["original"] == ""
            continue
        assert Path(row["original"]).suffix == Path(row["image"]).suffix  # the same JPEG step, or none
        original = read_rgb(dataset / row["original"])
        example = reproduce_example(photos, index, seed=SEED, config=config)
        np.testing.assert_array_equal(original, example.original)
        mask = example.mask.astype(bool)
        diff = np.abs(original.astype(np.int16) - read_rgb(dataset / row["image"])).mean(axis=2)
        # Outside the edit only the JPEG's block effects differ (none without JPEG); inside, the edit.
        assert diff[~mask].mean() < 2.0 and diff[mask].mean() > 2.0 + diff[~mask].mean(), row["edit"]


def test_resume_skips_existing_and_rebuilds_missing(photos: Path, dataset: Path, tmp_path: Path) -> None:
    synthesize_dataset(photos, tmp_path, N, seed=SEED, size=SIZE, workers=1, progress=False)
    before = _hashes(tmp_path)
    mask = tmp_path / "masks" / "000002.png"
    stamp = (tmp_path / "masks" / "000001.png").stat().st_mtime_ns
    mask.unlink()
    synthesize_dataset(photos, tmp_path, N, seed=SEED, size=SIZE, workers=1, progress=False)
    assert _hashes(tmp_path) == before
    assert (tmp_path / "masks" / "000001.png").stat().st_mtime_ns == stamp  # untouched
    # a different seed recomputes everything
    synthesize_dataset(photos, tmp_path, N, seed=SEED + 1, size=SIZE, workers=1, progress=False)
    assert _hashes(tmp_path)["manifest.csv"] != before["manifest.csv"]


def test_make_edited_example_is_deterministic() -> None:
    name, photo = sample_photos()[0]
    assert name == "astronaut" and photo.shape == (512, 512, 3)
    image, mask, text = make_edited_example(photo, np.random.default_rng(5), size=96)
    again = make_edited_example(photo, np.random.default_rng(5), size=96)
    assert image.shape == (96, 96, 3) and image.dtype == np.uint8
    assert mask.shape == (96, 96) and mask.dtype == np.uint8 and set(np.unique(mask)) == {0, 1}
    assert 0.01 <= mask.mean() <= 0.60
    assert text.startswith("scale:") and "|crop:96|shape:" in text and "splice" not in text
    np.testing.assert_array_equal(image, again[0])
    np.testing.assert_array_equal(mask, again[1])
    assert text == again[2]


def test_authentic_and_edited_share_the_global_history() -> None:
    photo = sample_photos()[1][1]
    edited = synthesize_example(photo, np.random.default_rng(9), edited=True, config=SynthConfig(size=64))
    authentic = synthesize_example(photo, np.random.default_rng(9), edited=False, config=SynthConfig(size=64))
    np.testing.assert_array_equal(edited.base, authentic.base)
    assert edited.history.split("|")[:2] == authentic.history.split("|")[:2]
    assert authentic.mask.sum() == 0 and authentic.label == 0 and edited.label == 1


def test_is_authentic_gives_an_exact_share() -> None:
    assert [i for i in range(20) if is_authentic(i, 0.2)] == [4, 9, 14, 19]
    assert sum(is_authentic(i, 0.3) for i in range(1000)) == 300
    assert not any(is_authentic(i, 0.0) for i in range(50)) and all(is_authentic(i, 1.0) for i in range(50))


@pytest.mark.parametrize("kind", SHAPE_NAMES)
def test_region_shapes_hit_the_target_area(kind: str) -> None:
    rng = np.random.default_rng(0)
    for target in (0.02, 0.1, 0.4):
        region, got = random_region(rng, 200, 300, target, kind)
        assert got == kind and region.dtype == bool
        assert 0.3 * target < region.mean() < 1.3 * target, (kind, target, region.mean())
        assert cv2.connectedComponents(region.astype(np.uint8))[0] >= 2


@pytest.mark.parametrize("op", EDIT_NAMES)
def test_every_edit_changes_its_region_only(op: str) -> None:
    photos = dict(sample_photos())
    base = cv2.resize(photos["coffee"], (96, 64), interpolation=cv2.INTER_AREA)
    region = np.zeros((64, 96), bool)
    region[16:48, 24:72] = True
    rng = np.random.default_rng(3)
    result = apply_edit(base, region, op, rng, donor=photos["rocket"], feather_prob=0.0)
    assert result.name.startswith(f"{op}:") and result.name.endswith("+hard")
    np.testing.assert_array_equal(result.mask, region)  # hard alpha: the mask is the region
    changed = np.abs(result.image.astype(np.int16) - base).max(axis=2) > 0
    assert not changed[~region].any()
    assert result.change > 1.0 and result.change == pytest.approx(
        np.abs(result.image.astype(np.int16) - base)[region].mean()
    )


def test_cli_modules_import_nothing_heavy() -> None:
    code = (
        "import sys, argparse, deal_data_tools.synth as s, deal_data_tools.pairs as p; "
        "s.add_arguments(argparse.ArgumentParser()); p.add_arguments(argparse.ArgumentParser()); "
        "print(sorted(m for m in ('numpy', 'cv2', 'skimage', 'torch') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT
    )
    assert out.stdout.strip() == "[]"


def test_parse_weights() -> None:
    weights = parse_weights("inpaint=2, resample=0.5")
    assert weights["inpaint"] == 2.0 and weights["resample"] == 0.5 and weights["splice"] == 0.0
    with pytest.raises(ValueError, match="valid|NAME in"):
        parse_weights("blur=1")


def test_cli_run(photos: Path, dataset: Path, tmp_path: Path) -> None:
    from deal.cli.main import UsageError

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        [
            "--src",
            str(photos),
            "--out",
            str(tmp_path),
            "--n",
            "2",
            "--seed",
            str(SEED),
            "--size",
            str(SIZE),
            "--workers",
            "1",
            "--split",
            "train",
        ]
    )
    assert run(args) == 0
    rows = _manifest(tmp_path)
    assert [r["split"] for r in rows] == ["train", "train"]
    reference = _manifest(dataset)[:2]
    for row, ref in zip(rows, reference):  # same images as the API run with the same seed
        assert {k: v for k, v in row.items() if k != "split"} == {
            k: v for k, v in ref.items() if k != "split"
        }
    bad = parser.parse_args(["--src", str(photos), "--out", str(tmp_path), "--n", "1", "--weights", "blur=1"])
    with pytest.raises(UsageError, match="blur"):
        run(bad)
    missing = parser.parse_args(["--src", str(tmp_path / "nope"), "--out", str(tmp_path), "--n", "1"])
    with pytest.raises(UsageError, match="nope"):
        run(missing)
