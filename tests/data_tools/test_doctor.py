from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from deal_data_tools.doctor import CHECKS, LAYOUT_CHOICES, DoctorOptions, diagnose, near_duplicate_pairs
from PIL import Image

from deal.cli.main import main
from deal.data import DATASET_LAYOUTS
from tests.conftest import require_shared

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
DEAL = SHARED_DATA / "fixtures" / "DEAL-300K"
COCOGLIDE = SHARED_DATA / "fixtures" / "CocoGlide"
H = W = 32


def _image(path: Path, seed: int) -> np.ndarray:
    arr = np.random.default_rng(seed).integers(20, 230, (H, W, 3), dtype=np.uint8)
    Image.fromarray(arr).save(path)
    return arr


def _mask(path: Path, m: np.ndarray) -> None:
    Image.fromarray(m.astype(np.uint8)).save(path)


def _box() -> np.ndarray:
    m = np.zeros((H, W), np.uint8)
    m[8:16, 8:20] = 255
    return m


def _clean(root: Path) -> list[dict[str, str]]:
    """train: t0 edited + t1 authentic; test: s0 edited + s1 authentic. Returns the manifest rows."""
    rows = []
    for split, prefix, seed in (("train", "t", 0), ("test", "s", 10)):
        _image(root / f"{prefix}0.png", seed)
        _mask(root / f"{prefix}0_m.png", _box())
        _image(root / f"{prefix}1.png", seed + 1)
        rows.append({"image": f"{prefix}0.png", "mask": f"{prefix}0_m.png", "label": "1", "split": split})
        rows.append({"image": f"{prefix}1.png", "mask": "", "label": "0", "split": split})
    return rows


def _write_manifest(root: Path, rows: list[dict[str, str]]) -> Path:
    path = root / "manifest.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        fields = ["image", "mask", "label", "split"] + (["original"] if any("original" in r for r in rows) else [])
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _missing_file(root, rows):
    rows.append({"image": "gone.png", "mask": "", "label": "0", "split": "test"})
    return "missing_files", ["gone.png"]


def _unreadable(root, rows):
    (root / "bad.png").write_bytes(b"\x89PNG garbage")
    rows.append({"image": "bad.png", "mask": "", "label": "0", "split": "test"})
    return "unreadable", ["bad.png"]


def _size_mismatch(root, rows):
    _mask(root / "s0_m.png", _box()[:, :30])
    return "size_mismatch", ["s0_m.png"]


def _non_binary(root, rows):
    _mask(root / "s0_m.png", np.tile(np.linspace(0, 255, W).round(), (H, 1)))
    return "non_binary_masks", ["s0_m.png"]


def _inverted(root, rows):
    _mask(root / "s0_m.png", 255 - _box())
    return "inverted_masks", ["s0_m.png"]


def _empty(root, rows):
    _mask(root / "s0_m.png", np.zeros((H, W)))
    return "empty_masks", ["s0_m.png"]


def _exact_duplicate(root, rows):
    shutil.copy(root / "t1.png", root / "t1_copy.png")
    rows.append({"image": "t1_copy.png", "mask": "", "label": "0", "split": "train"})
    return "exact_duplicates", ["t1.png", "t1_copy.png"]


def _near_duplicate(root, rows):
    brighter = np.asarray(Image.open(root / "t1.png")).astype(int) + 3
    Image.fromarray(brighter.astype(np.uint8)).save(root / "s1.png")  # train image leaked into test
    return "near_duplicates", ["t1.png", "s1.png"]


def _with_original(root, rows) -> Path:
    """t0's edit gets an original (t1 stands in for it: readable and the same size, so clean)."""
    rows[0]["original"] = "t1.png"
    return root / "t1.png"


def _unreadable_original(root, rows):
    _with_original(root, rows)
    rows[0]["original"] = "orig_bad.png"
    (root / "orig_bad.png").write_bytes(b"\x89PNG garbage")
    return "unreadable", ["orig_bad.png"]


def _original_of_another_size(root, rows):
    _with_original(root, rows)
    rows[0]["original"] = "orig_small.png"
    Image.fromarray(np.zeros((H, W - 4, 3), np.uint8)).save(root / "orig_small.png")
    return "size_mismatch", ["orig_small.png"]


FAULTS = [
    _unreadable_original,
    _original_of_another_size,
    _missing_file,
    _unreadable,
    _size_mismatch,
    _non_binary,
    _inverted,
    _empty,
    _exact_duplicate,
    _near_duplicate,
]


def _names(item: dict) -> list[str]:
    return [Path(p).name for p in item.get("files") or [item["file"]]]


def test_an_original_is_checked_like_an_image(tmp_path):
    """A readable original of the edit's size passes; the findings of one that is not say it is the
    original and how the sizes differ."""
    rows = _clean(tmp_path)
    _with_original(tmp_path, rows)
    assert diagnose(_write_manifest(tmp_path, rows), workers=1, progress=False).ok
    _original_of_another_size(tmp_path, rows)
    report = diagnose(_write_manifest(tmp_path, rows), workers=1, progress=False)
    (finding,) = report.findings["size_mismatch"]
    assert finding["detail"] == f"original {W - 4}x{H} vs image {W}x{H} (WxH)"
    assert Path(finding["image"]).name == "t0.png"
    _unreadable_original(tmp_path, rows)
    (finding,) = diagnose(_write_manifest(tmp_path, rows), workers=1, progress=False).findings["unreadable"]
    assert finding["role"] == "original" and "orig_bad.png" in finding["detail"]


def test_clean_dataset_passes(tmp_path, capsys):
    manifest = _write_manifest(tmp_path, _clean(tmp_path))
    report = diagnose(manifest, workers=1, progress=False)
    assert report.ok and report.records == 4 and report.counts == dict.fromkeys(CHECKS, 0)
    assert main(["data", "doctor", str(tmp_path), "--workers", "1", "--json", str(tmp_path / "r.json")]) == 0
    assert capsys.readouterr().out.strip().endswith("OK: no problems found")
    assert json.loads((tmp_path / "r.json").read_text())["ok"] is True


@pytest.mark.parametrize("plant", FAULTS, ids=lambda f: f.__name__.strip("_"))
def test_each_planted_fault_is_found_exactly(tmp_path, plant):
    rows = _clean(tmp_path)
    check, files = plant(tmp_path, rows)
    report = diagnose(_write_manifest(tmp_path, rows), workers=1, progress=False)
    expected = dict.fromkeys(CHECKS, 0)
    expected[check] = 1
    assert report.counts == expected
    assert _names(report.findings[check][0]) == files


def test_cli_exit_code_json_and_pool(tmp_path, capsys):
    rows = _clean(tmp_path)
    _inverted(tmp_path, rows)
    _exact_duplicate(tmp_path, rows)
    _write_manifest(tmp_path, rows)
    code = main(
        [
            "data",
            "doctor",
            str(tmp_path / "manifest.csv"),
            "--workers",
            "2",
            "--json",
            str(tmp_path / "r.json"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "inverted_masks: 1" in out and "exact_duplicates: 1" in out and "PROBLEMS: 2 finding(s)" in out
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["counts"]["inverted_masks"] == 1 and data["ok"] is False
    assert data["findings"]["inverted_masks"][0]["edited_fraction"] == pytest.approx(1 - 96 / 1024)
    assert data["findings"]["inverted_masks"][0]["border_share"] == 1.0
    assert main(["data", "doctor", str(tmp_path / "absent")]) == 2


def test_deal300k_missing_mask_and_real_fixtures_are_clean(tmp_path):
    require_shared("fixtures", "DEAL-300K", "train")
    require_shared("fixtures", "CocoGlide", "fake")
    shutil.copytree(DEAL / "train", tmp_path / "train")
    shutil.copytree(DEAL / "label", tmp_path / "label")
    (tmp_path / "label" / "000000000459_qwen120.png").unlink()
    report = diagnose(tmp_path, workers=1, progress=False)
    assert (
        report.layout == "deal300k"
        and report.counts["missing_masks"] == 1
        and sum(report.counts.values()) == 1
    )
    assert _names(report.findings["missing_masks"][0]) == ["000000000459_qwen120.jpg"]
    # the real masks pass every check, CoCoGlide's 97%-of-the-image dining table included
    assert diagnose(COCOGLIDE, workers=1, progress=False).ok


def test_near_duplicate_pairs_match_brute_force():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 2**64, 40, dtype=np.uint64)
    hashes = [int(h) for h in base]
    for k in range(40):  # near copies with 0..6 flipped bits
        bits = rng.choice(64, size=k % 7, replace=False)
        hashes.append(hashes[k] ^ sum(1 << int(b) for b in bits))
    groups = [rng.choice(["train", "val", "test", ""]) for _ in hashes]
    for t in (0, 2, 4, 6):
        brute = sorted(
            (i, j, bin(hashes[i] ^ hashes[j]).count("1"))
            for i in range(len(hashes))
            for j in range(i + 1, len(hashes))
            if groups[i]
            and groups[j]
            and groups[i] != groups[j]
            and bin(hashes[i] ^ hashes[j]).count("1") <= t
        )
        assert near_duplicate_pairs(hashes, groups, t) == brute
    with pytest.raises(ValueError, match="hash_distance"):
        DoctorOptions(hash_distance=64)


def test_layout_choices_match_the_registry():
    assert LAYOUT_CHOICES == tuple(DATASET_LAYOUTS)
