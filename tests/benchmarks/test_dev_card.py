"""deal_benchmarks.dev_card on the 16-triplet CoCoGlide fixture laid out as a development split."""

from __future__ import annotations

import json

import pytest
from deal_benchmarks.dev_card import main

from tests.conftest import require_shared


@pytest.fixture
def fixture_split(tmp_path):
    """The fixture's fake/, real/, mask/ and table.csv, with an IDS.txt as the development split has."""
    src = require_shared("fixtures", "CocoGlide")
    split = tmp_path / "dev"
    split.mkdir()
    for name in ("fake", "real", "mask", "table.csv"):
        if (src / name).exists():
            (split / name).symlink_to(src / name)
    ids = sorted(p.stem for p in (src / "fake").iterdir())
    (split / "IDS.txt").write_text("# ids\n" + "\n".join(ids) + "\n")
    return split


def test_one_command_writes_every_predictors_row_with_paired_differences(fixture_split, tmp_path):
    out = tmp_path / "card"
    assert main(["--dev", str(fixture_split), "--out", str(out), "--bootstrap", "50",
                 "--baseline", "predict-everything", "--baseline", "spectral-slope"]) == 0  # fmt: skip
    report = json.loads((out / "card.json").read_text())
    rows = report["rows"]
    assert list(rows) == ["predict-everything", "spectral-slope", "shipped"] and report["n"] == 16
    everything, spectral, shipped = rows["predict-everything"], rows["spectral-slope"], rows["shipped"]
    assert everything["pixel_auc"] == 0.5 and everything["pixel_auc_lift"] == 0.0
    # the paired difference of a zero-lift map against the cue is minus the cue's lift, image by image
    assert everything["lift_vs_spectral-slope"] == pytest.approx(-spectral["pixel_auc_lift"], abs=2e-4)
    assert spectral["lift_vs_shipped"] == pytest.approx(-shipped["lift_vs_spectral-slope"], abs=1e-4)
    lo, hi = spectral["lift_vs_shipped_lo"], spectral["lift_vs_shipped_hi"]
    assert lo <= spectral["lift_vs_shipped"] <= hi
    assert sum(int(n) for n in shipped["edits_called"].split(" / ")) == 16
    assert spectral["edits_called"] is None  # a baseline has no thresholds of its own: no verdict
    assert "| shipped |" in (out / "card.md").read_text()


def test_half_a_and_half_b_split_the_ids(fixture_split):
    from deal_benchmarks.dev_card import dev_triplets

    a, b = dev_triplets(fixture_split, "a"), dev_triplets(fixture_split, "b")
    assert len(a) == len(b) == 8 and not {t[0] for t in a} & {t[0] for t in b}
    assert sorted(a + b) == sorted(dev_triplets(fixture_split, "all"))
