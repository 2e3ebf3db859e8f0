from __future__ import annotations

import json

import pytest

from deal.data import DatasetError, load_benco_json, load_image_mask_folder, load_manifest


def test_folder_empty_or_absent_mask_is_authentic(tmp_path, write_rgb, write_mask):
    write_rgb(tmp_path / "images/a.jpg")
    write_rgb(tmp_path / "images/sub/b.png")
    write_rgb(tmp_path / "images/c.png")
    write_mask(tmp_path / "masks/a.png")
    write_mask(tmp_path / "masks/sub/b_mask.png", box=None)  # empty mask
    records = load_image_mask_folder(tmp_path)
    assert [(r.name, r.label, r.split) for r in records] == [("a", 1, ""), ("c", 0, ""), ("b", 0, "")]
    assert records[0].mask == str(tmp_path / "masks/a.png")
    assert records[1].mask is None and records[2].mask is None


def test_folder_per_split(tmp_path, write_rgb, write_mask):
    for split in ("train", "test"):
        write_rgb(tmp_path / split / "images/x.png")
        write_mask(tmp_path / split / "masks/x.png")
    records = load_image_mask_folder(tmp_path)
    assert [(r.name, r.split, r.label) for r in records] == [("train/x", "train", 1), ("test/x", "test", 1)]
    with pytest.raises(DatasetError, match="looked for .*images and .*masks"):
        load_image_mask_folder(tmp_path / "train" / "images")


def test_manifest_relative_paths_defaults_and_extra_columns(tmp_path):
    (tmp_path / "m.csv").write_text(
        "image,mask,split,comment\n"
        "imgs/a.jpg,masks/a.png,train,hello\n"
        "/abs/b.jpg,,test,\n"
        "other/a.jpg,,val,x\n",
        encoding="utf-8",
    )
    records = load_manifest(tmp_path / "m.csv")
    assert [(r.image, r.mask, r.label, r.split) for r in records] == [
        (str(tmp_path / "imgs/a.jpg"), str(tmp_path / "masks/a.png"), 1, "train"),
        ("/abs/b.jpg", None, 0, "test"),
        (str(tmp_path / "other/a.jpg"), None, 0, "val"),
    ]
    assert [r.name for r in records] == ["imgs/a", "b", "other/a"]  # stems collide -> relative paths


def test_manifest_errors(tmp_path):
    (tmp_path / "bad.csv").write_text("path,mask\na.jpg,\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="lacks column.*image.*has: path, mask"):
        load_manifest(tmp_path / "bad.csv")
    (tmp_path / "nomask.csv").write_text("image,mask,label\na.jpg,,1\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="row 2: label 1 .*no mask for a.jpg"):
        load_manifest(tmp_path / "nomask.csv")
    (tmp_path / "label.csv").write_text("image,label\na.jpg,2\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="label must be 0 or 1"):
        load_manifest(tmp_path / "label.csv")
    (tmp_path / "dup.csv").write_text("image,name\na.jpg,n\nb.jpg,n\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="occur more than once: n"):
        load_manifest(tmp_path / "dup.csv")


def test_benco_json(tmp_path):
    (tmp_path / "d.json").write_text(
        json.dumps([["tp/a.jpg", "gt/a.png"], ["/data/au/b.jpg", "Negative"]]), encoding="utf-8"
    )
    records = load_benco_json(tmp_path / "d.json")
    assert [(r.image, r.mask, r.label, r.name) for r in records] == [
        (str(tmp_path / "tp/a.jpg"), str(tmp_path / "gt/a.png"), 1, "a"),
        ("/data/au/b.jpg", None, 0, "b"),
    ]
    (tmp_path / "bad.json").write_text(json.dumps([["only-one"]]), encoding="utf-8")
    with pytest.raises(DatasetError, match="entry 0"):
        load_benco_json(tmp_path / "bad.json")
