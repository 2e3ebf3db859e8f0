from __future__ import annotations

from pathlib import Path

import pytest

from deal.data import DatasetError, Record, load_deal300k, scan_deal300k

FIXTURE_IDS = ("000000000009", "000000000459", "000000436603")


def test_fixture_pairs_by_name(deal_fixture):
    records = load_deal300k(deal_fixture)
    assert len(records) == 6
    edited = [r for r in records if r.label == 1]
    authentic = [r for r in records if r.label == 0]
    assert [r.name for r in edited] == [f"{i}_qwen120" for i in FIXTURE_IDS]
    assert [r.name for r in authentic] == list(FIXTURE_IDS)
    for r in edited:
        coco = r.name.split("_")[0]
        assert r.image == str(deal_fixture / "train" / f"{r.name}.jpg")
        assert r.mask == str(deal_fixture / "label" / f"{r.name}.png")
        assert r.original == str(deal_fixture / "train" / f"{coco}.jpg")
        assert (r.split, r.tag) == ("train", "qwen120")
    for r in authentic:
        assert r == Record(
            image=str(deal_fixture / "train" / f"{r.name}.jpg"),
            mask=None,
            label=0,
            name=r.name,
            split="train",
        )


def test_fixture_separate_image_and_label_roots(deal_fixture):
    records = load_deal300k(deal_fixture / "train", label_root=deal_fixture / "label")
    assert sum(r.label for r in records) == 3 and len(records) == 6
    assert {r.split for r in records} == {"train"}  # the image root's own name
    assert load_deal300k(deal_fixture, include_authentic=False)[0].label == 1


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


def test_splits_from_nested_folders_and_missing_mask(tmp_path):
    for rel in (
        "extract/val/imgs/000000000001_qwen180.jpg",
        "extract/val/imgs/000000000001.jpg",
        "extract/test/000000000002_qwen120.jpg",
        "masks/any/depth/000000000001_qwen180.png",
        "masks/000000000002_qwen120.png",
        "masks/000000000077_qwen120.png",  # mask without image
        "extract/test/000000000003_qwen120.jpg",  # image without mask
        "extract/test/._000000000004.jpg",  # macOS AppleDouble: ignored
        "extract/notes/readme_file.jpg",  # not a DEAL name: ignored
    ):
        _touch(tmp_path / rel)
    scan = scan_deal300k(tmp_path)
    assert [(r.name, r.label, r.split, r.tag) for r in scan.records] == [
        ("000000000001_qwen180", 1, "val", "qwen180"),
        ("000000000002_qwen120", 1, "test", "qwen120"),
        ("000000000001", 0, "val", ""),
    ]
    assert scan.records[1].original is None  # no 000000000002.jpg
    assert scan.missing_masks == [str(tmp_path / "extract/test/000000000003_qwen120.jpg")]
    assert scan.orphan_masks == [str(tmp_path / "masks/000000000077_qwen120.png")]

    with pytest.raises(
        DatasetError, match=r"1 DEAL-300K edited image\(s\) have no mask.*000000000003_qwen120.jpg"
    ):
        load_deal300k(tmp_path)
    with pytest.warns(UserWarning, match="000000000003_qwen120.jpg"):
        assert len(load_deal300k(tmp_path, on_missing_mask="skip")) == 3


def test_duplicate_names_and_empty_folder_are_errors(tmp_path):
    _touch(tmp_path / "a/000000000001_qwen120.jpg")
    _touch(tmp_path / "b/000000000001_qwen120.jpg")
    _touch(tmp_path / "000000000001_qwen120.png")
    with pytest.raises(DatasetError, match="occur more than once: 000000000001_qwen120"):
        load_deal300k(tmp_path)
    (tmp_path / "empty").mkdir()
    _touch(tmp_path / "empty/000000000005.jpg")
    with pytest.raises(DatasetError, match="no DEAL-300K edited images.*found 1 original"):
        load_deal300k(tmp_path / "empty")
    with pytest.raises(DatasetError, match="not a folder"):
        load_deal300k(tmp_path / "missing")


def test_symlinked_files_are_distinct_and_overlapping_roots_count_once(tmp_path):
    _touch(tmp_path / "src.jpg")
    (tmp_path / "d").mkdir()
    (tmp_path / "d/000000000001.jpg").symlink_to(tmp_path / "src.jpg")
    (tmp_path / "d/000000000001_qwen120.jpg").symlink_to(tmp_path / "src.jpg")
    _touch(tmp_path / "d/m/000000000001_qwen120.png")
    scan = scan_deal300k(tmp_path / "d", tmp_path / "d" / "m")  # m is reached twice
    assert [(r.name, r.label) for r in scan.records] == [("000000000001_qwen120", 1), ("000000000001", 0)]
