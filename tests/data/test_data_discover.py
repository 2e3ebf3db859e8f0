from __future__ import annotations

import json

import pytest

from deal.data import DATASET_LAYOUTS, DatasetError, detect_layout, discover_records


def test_layout_names():
    assert list(DATASET_LAYOUTS) == ["manifest", "benco", "cocoglide", "folder", "deal300k"]


def test_detects_fixtures(deal_fixture, cocoglide_fixture):
    assert detect_layout(deal_fixture) == "deal300k"
    assert detect_layout(cocoglide_fixture) == "cocoglide"
    assert len(discover_records(deal_fixture)) == 6
    assert len(discover_records(deal_fixture, split="train")) == 6
    assert len(discover_records(cocoglide_fixture, "test")) == 32
    with pytest.raises(DatasetError, match=r"no records of split 'val' .*found train: 6"):
        discover_records(deal_fixture, split="val")


def test_detects_manifest_benco_folder(tmp_path, write_rgb, write_mask):
    write_rgb(tmp_path / "f/images/a.png")
    write_mask(tmp_path / "f/masks/a.png")
    assert detect_layout(tmp_path / "f") == "folder"
    (tmp_path / "m").mkdir()
    (tmp_path / "m/manifest.csv").write_text("image,split\nx.jpg,train\ny.jpg,test\n", encoding="utf-8")
    assert detect_layout(tmp_path / "m") == "manifest"
    assert detect_layout(tmp_path / "m/manifest.csv") == "manifest"
    assert [r.name for r in discover_records(tmp_path / "m", split="test")] == ["y"]
    (tmp_path / "b.json").write_text(json.dumps([["a.jpg", "Negative"]]), encoding="utf-8")
    assert detect_layout(tmp_path / "b.json") == "benco"
    with pytest.warns(UserWarning, match="no split information"):
        assert len(discover_records(tmp_path / "b.json", split="test")) == 1


def test_layout_override_and_errors(tmp_path, write_rgb, write_mask):
    write_rgb(tmp_path / "images/a.png")
    write_mask(tmp_path / "masks/a.png")
    with pytest.raises(DatasetError, match="unknown dataset layout 'nope'; choose one of manifest, benco"):
        discover_records(tmp_path, layout="nope")
    with pytest.raises(DatasetError, match="no DEAL-300K edited images"):
        discover_records(tmp_path, layout="deal300k")
    assert [r.label for r in discover_records(tmp_path, layout="folder")] == [1]
    (tmp_path / "empty").mkdir()
    with pytest.raises(
        DatasetError, match="no dataset recognized .*manifest .csv.*IMDL-BenCo.*CoCoGlide.*images/ \\+ masks/"
    ):
        discover_records(tmp_path / "empty")
    with pytest.raises(DatasetError, match="does not exist"):
        discover_records(tmp_path / "absent")
    (tmp_path / "x.txt").write_text("", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"x.txt is a .txt file"):
        discover_records(tmp_path / "x.txt")
