"""The double-JPEG benchmark's counts on photos made here: what the indicator says of each (Q1, Q2) pair
and of single compressions, as the table in docs/provenance.md reports them."""

from __future__ import annotations

from deal_benchmarks import double_jpeg
from PIL import Image

from tests.provenance.builders import pink_noise


def test_counts_and_table_on_two_photos(tmp_path):
    for seed in (1, 2):
        Image.fromarray(pink_noise(320, 384, seed)).save(tmp_path / f"p{seed}.png")
    double, single, n = double_jpeg.measure([tmp_path])
    assert n == 2 and all(c.total == 2 for c in [*double.values(), *single.values()])
    # coarser first step: found on both photos, at 95 too; single compressions: no false alarm
    assert [double[((50, 0), q2)].indicated for q2 in (70, 80, 90, 95)] == [2, 2, 2, 2]
    assert [single[q2].indicated for q2 in (70, 80, 90, 95, 98)] == [0, 0, 0, 0, 0]
    # a finer first step, or a crop in between, leaves nothing to find
    assert double[((90, 0), 80)].indicated == double[((60, 4), 90)].indicated == 0
    # a last quality of 98 has steps of 1 where the indicator looks: it cannot measure, never says "no"
    assert double[((50, 0), 98)].unmeasured == single[98].unmeasured == 2
    text = double_jpeg.table(double, single, n)
    assert "| 50 | 2/2 | 2/2 | 2/2 | 2/2 | 0/2 (2 n/m) |" in text
    assert "| indicated | 0/2 | 0/2 | 0/2 | 0/2 | 0/2 (2 n/m) |" in text
