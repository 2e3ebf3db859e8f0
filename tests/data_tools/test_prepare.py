from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import pytest
from deal_data_tools.prepare import extract_zip, prepare_cocoglide, prepare_deal300k

from deal.cli.main import main
from deal.data import DatasetError, discover_records
from tests.conftest import require_shared

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
DEAL = SHARED_DATA / "fixtures" / "DEAL-300K"
COCOGLIDE = SHARED_DATA / "fixtures" / "CocoGlide"
README_FRACTIONS = {
    "000000000009_qwen120": 0.041,
    "000000000459_qwen120": 0.064,
    "000000436603_qwen120": 0.292,
}
README_SIZES = {"000000000009": (512, 384), "000000000459": (448, 512), "000000436603": (576, 384)}


@pytest.fixture(autouse=True)
def _need_fixtures():
    require_shared("fixtures", "DEAL-300K", "train")
    require_shared("fixtures", "CocoGlide", "fake")


def _rows(out: Path) -> list[dict[str, str]]:
    with (out / "manifest.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _check_deal_rows(rows: list[dict[str, str]]) -> None:
    edited = {r["name"]: r for r in rows if r["label"] == "1"}
    authentic = {r["name"]: r for r in rows if r["label"] == "0"}
    assert len(edited) == 3 and len(authentic) == 3
    assert {r["split"] for r in rows} == {"train"}
    for name, frac in README_FRACTIONS.items():
        assert round(float(edited[name]["edited_fraction"]), 3) == frac
        coco = name.split("_")[0]
        assert (int(edited[name]["width"]), int(edited[name]["height"])) == README_SIZES[coco]
        assert edited[name]["original"].endswith(f"{coco}.jpg") and edited[name]["tag"] == "qwen120"
    assert all(float(r["edited_fraction"]) == 0 and r["mask"] == "" for r in authentic.values())


def test_deal300k_in_place_with_pool(tmp_path):
    result = prepare_deal300k([DEAL], tmp_path / "out", workers=2, progress=False)
    rows = _rows(tmp_path / "out")
    assert list(rows[0]) == [
        "split", "name", "image", "mask", "original", "label", "tag", "width", "height", "edited_fraction", "instruction"
    ]  # fmt: skip
    _check_deal_rows(rows)
    image = Path(rows[0]["image"])  # outside OUT: absolute (symlinks kept, so compare resolved paths)
    assert image.is_absolute() and image.resolve() == (DEAL / "train" / "000000000009_qwen120.jpg").resolve()
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["splits"]["train"]["edited"] == 3 and summary["splits"]["train"]["authentic"] == 3
    assert summary["splits"]["train"]["mean_edited_fraction"] == pytest.approx(
        (0.041143 + 0.064022 + 0.291974) / 3, abs=1e-5
    )
    assert summary["problems"] == [] and result.problems == []
    records = discover_records(tmp_path / "out")  # the manifest reads back as the same dataset
    assert sorted(r.name for r in records) == sorted(r.name for r in discover_records(DEAL))
    assert not list((tmp_path / "out").glob(".*.tmp"))


def _deal_zips(folder: Path) -> None:
    folder.mkdir()
    with zipfile.ZipFile(folder / "train.zip", "w") as z:  # flat: the split comes from the zip name
        for p in sorted((DEAL / "train").iterdir()):
            z.write(p, p.name)
    with zipfile.ZipFile(folder / "label.zip", "w") as z:
        for p in sorted((DEAL / "label").iterdir()):
            z.write(p, f"label/{p.name}")
        z.writestr("__MACOSX/label/._000000000009_qwen120.png", b"junk")


def test_deal300k_from_zips_extracts_once(tmp_path, monkeypatch):
    _deal_zips(tmp_path / "zips")
    out = tmp_path / "out"
    prepare_deal300k([tmp_path / "zips"], out, workers=1, progress=False)
    rows = _rows(out)
    _check_deal_rows(rows)
    first = next(r for r in rows if r["name"] == "000000000009_qwen120")
    assert first["image"] == "files/train/000000000009_qwen120.jpg"  # inside OUT: relative
    assert first["mask"] == "files/label/label/000000000009_qwen120.png"
    assert not (out / "files" / "label" / "__MACOSX").exists()
    assert len(discover_records(out / "manifest.csv", split="train")) == 6

    def no_reopen(*args, **kwargs):
        raise AssertionError("zip reopened although already extracted")

    monkeypatch.setattr(zipfile, "ZipFile", no_reopen)
    prepare_deal300k(
        [tmp_path / "zips" / "train.zip", tmp_path / "zips" / "label.zip"], out, workers=1, progress=False
    )
    _check_deal_rows(_rows(out))


@pytest.mark.parametrize("member", ["../evil.jpg", "/abs/evil.jpg", "a/../../evil.jpg"])
def test_zip_slip_is_rejected(tmp_path, member):
    with zipfile.ZipFile(tmp_path / "test.zip", "w") as z:
        z.writestr("ok.jpg", b"x")
        z.writestr(member, b"x")
    with pytest.raises(DatasetError, match="unsafe member path.*evil.jpg"):
        extract_zip(tmp_path / "test.zip", tmp_path / "out" / "files")
    assert not (tmp_path / "out" / "files" / "test").exists()
    assert not (tmp_path / "evil.jpg").exists() and not (tmp_path / "out" / "evil.jpg").exists()


def test_instructions_attach_by_checkpoint(tmp_path):
    (tmp_path / "ins").mkdir()
    (tmp_path / "ins" / "checkpoint-120_train_results.json").write_text(
        json.dumps([{"image_name": "000000000459.jpg", "generated_text": "make the sky pink"}]),
        encoding="utf-8",
    )
    (tmp_path / "ins" / "checkpoint-180_train_results.json").write_text(
        json.dumps([{"image_name": "000000000009.jpg", "generated_text": "wrong checkpoint"}]),
        encoding="utf-8",
    )
    result = prepare_deal300k(
        [DEAL], tmp_path / "out", instructions=tmp_path / "ins", workers=1, progress=False
    )
    texts = {r["name"]: r["instruction"] for r in _rows(tmp_path / "out")}
    assert texts["000000000459_qwen120"] == "make the sky pink"
    assert texts["000000000009_qwen120"] == "" and texts["000000000459"] == ""
    assert result.summary["instructions_attached"] == 1
    fixture_ins = prepare_deal300k(
        [DEAL], tmp_path / "o2", instructions=DEAL / "instructions", workers=1, progress=False
    )
    assert fixture_ins.summary["instructions_attached"] == 0  # the fixture's dev files are empty lists


def test_cocoglide_from_folder_and_zip(tmp_path):
    result = prepare_cocoglide(COCOGLIDE, tmp_path / "dir", workers=1, progress=False)
    assert result.summary["splits"] == {
        "test": {"edited": 16, "authentic": 16, "mean_edited_fraction": pytest.approx(0.2512, abs=1e-4)}
    }
    with zipfile.ZipFile(tmp_path / "CocoGlide.zip", "w") as z:
        for sub in ("fake", "mask", "real"):
            for p in sorted((COCOGLIDE / sub).iterdir()):
                z.write(p, f"CocoGlide/{sub}/{p.name}")
    prepare_cocoglide(tmp_path / "CocoGlide.zip", tmp_path / "zip", workers=1, progress=False)
    rows = {r["name"]: r for r in _rows(tmp_path / "zip")}
    assert len(rows) == 32
    phone = rows["glide_inpainting_val2017_288391_up"]
    assert phone["mask"] == "files/CocoGlide/CocoGlide/mask/cell phone_288391_mask.png"
    assert phone["tag"] == "cell phone" and (phone["width"], phone["height"]) == ("256", "256")
    in_place = {r["name"]: r for r in _rows(tmp_path / "dir")}["glide_inpainting_val2017_288391_up"]
    assert phone["edited_fraction"] == in_place["edited_fraction"] == "0.178314"


def test_cli_prepare_reports_problems(tmp_path, capsys):
    src = tmp_path / "src"
    (src / "train").mkdir(parents=True)
    for p in (DEAL / "train").iterdir():
        (src / "train" / p.name).write_bytes(p.read_bytes())
    (src / "label").mkdir()
    for p in list((DEAL / "label").iterdir())[:2]:
        (src / "label" / p.name).write_bytes(p.read_bytes())
    missing = {p.name for p in (DEAL / "label").iterdir()} - {p.name for p in (src / "label").iterdir()}
    code = main(
        ["data", "prepare", "deal300k", "--src", str(src), "--out", str(tmp_path / "out"), "--workers", "1"]
    )
    printed = capsys.readouterr().out
    assert code == 1
    assert "train           2          3" in printed and "1 problem(s): edited image without mask" in printed
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["problems"] == [
        f"edited image without mask: {src / 'train' / missing.pop().replace('.png', '.jpg')}"
    ]
    assert main(["data", "prepare", "deal300k", "--src", str(src), "--out", str(tmp_path / "o")]) == 1
    assert main(["data", "prepare", "cocoglide", "--src", "a", "b", "--out", str(tmp_path / "o")]) == 2


def test_cli_data_without_tool_prints_help(capsys):
    assert main(["data"]) == 2
    assert "prepare" in capsys.readouterr().out
