"""JPEG traces: quality estimated from the tables, subsampling, double compression, the EXIF thumbnail."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from deal.provenance import read_provenance
from deal.provenance.jpeg import ANNEX_K_CHROMA, ANNEX_K_LUMA, ijg_table
from tests.provenance.builders import encode, exif_block, photo


@pytest.mark.parametrize("quality", range(50, 96, 5))
def test_quality_is_recovered_from_the_tables(quality):
    jpeg = read_provenance(encode(photo(seed=quality), quality=quality))["jpeg"]
    assert abs(jpeg["quality"] - quality) <= 2
    assert jpeg["quality_exact"] is True  # Pillow's tables are the IJG scaling: the inversion is exact
    assert jpeg["quantization_tables"]["0"] == ijg_table(ANNEX_K_LUMA, quality).tolist()


def test_quality_of_foreign_tables_is_the_closest_and_not_exact():
    table = (ijg_table(ANNEX_K_LUMA, 80) + 1).tolist()  # an encoder with its own tables
    jpeg = read_provenance(encode(photo(), qtables=[table, table]))["jpeg"]
    assert jpeg["quality_exact"] is False and abs(jpeg["quality"] - 79) <= 2


# Tables of a Photoshop-like encoder: small steps everywhere, flat at the high frequencies, not an IJG scaling.
PHOTOSHOP_LIKE_LUMA = [
    2, 2, 2, 2, 3, 4, 5, 6, 2, 2, 2, 2, 3, 4, 5, 6, 2, 2, 2, 2, 4, 5, 7, 9, 2, 2, 2, 4, 5, 7, 9, 12,
    3, 3, 4, 5, 8, 10, 12, 12, 4, 4, 5, 7, 10, 12, 12, 12, 5, 5, 7, 9, 12, 12, 12, 12, 6, 6, 9, 12, 12, 12, 12, 12,
]  # fmt: skip
PHOTOSHOP_LIKE_CHROMA = [
    3, 3, 5, 9, 13, 15, 15, 15, 3, 4, 6, 11, 14, 12, 12, 12, 5, 6, 9, 14, 12, 12, 12, 12,
    9, 11, 14, 12, 12, 12, 12, 12, 13, 14, *[12] * 6, 15, *[12] * 7, 15, *[12] * 7, 15, *[12] * 7,
]  # fmt: skip


def test_non_standard_tables_are_reported_as_such_with_the_closest_quality_and_the_distance():
    """Never a bare number that looks exact: the section, the CSV and the report say "non-standard tables",
    the closest IJG quality (94: its steps differ from these by 0.99 on average, luminance 1.11 and
    chrominance 0.88) and that distance."""
    from deal.provenance import csv_fields
    from deal.report.provenance import provenance_view

    data = encode(photo(), qtables=[PHOTOSHOP_LIKE_LUMA, PHOTOSHOP_LIKE_CHROMA])
    p = read_provenance(data)
    jpeg = p["jpeg"]
    assert jpeg["quantization_tables"]["0"] == PHOTOSHOP_LIKE_LUMA
    assert (jpeg["quality"], jpeg["quality_exact"], jpeg["tables"]) == (94, False, "non-standard")
    luma_err = np.abs(ijg_table(ANNEX_K_LUMA, 94) - PHOTOSHOP_LIKE_LUMA).sum()
    chroma_err = np.abs(ijg_table(ANNEX_K_CHROMA, 94) - PHOTOSHOP_LIKE_CHROMA).sum()
    assert jpeg["quality_distance"] == round((luma_err + chroma_err) / 128, 2) == 0.99
    text = "non-standard tables (closest IJG quality 94, mean step difference 0.99)"
    assert csv_fields(p)["jpeg_quality"] == text
    assert ("JPEG quality", f"{text}, 4:2:0", "") in provenance_view(p)["rows"]
    standard = read_provenance(encode(photo(), quality=90))
    assert (standard["jpeg"]["tables"], standard["jpeg"]["quality_distance"]) == ("IJG", 0.0)
    assert csv_fields(standard)["jpeg_quality"] == "90"


@pytest.mark.parametrize(("subsampling", "expected"), [(0, "4:4:4"), (1, "4:2:2"), (2, "4:2:0")])
def test_chroma_subsampling(subsampling, expected):
    assert (
        read_provenance(encode(photo(), quality=90, subsampling=subsampling))["jpeg"]["subsampling"]
        == expected
    )


def _recompress(data: bytes, quality: int) -> bytes:
    return encode(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")), quality=quality)


@pytest.mark.parametrize(("first", "second"), [(50, 90), (60, 85), (70, 90), (60, 95), (90, 95)])
def test_double_compression_at_a_coarser_first_step_is_indicated(first, second):
    image = photo(384, 512, seed=first)
    once = read_provenance(encode(image, quality=second))["jpeg"]["double_compression"]
    twice = read_provenance(_recompress(encode(image, quality=first), second))["jpeg"]["double_compression"]
    assert once["indicated"] is False and once["score"] < 0.05
    assert twice["indicated"] is True and twice["score"] > 0.15
    assert "heuristic" in twice["method"]


def test_at_quality_98_the_steps_are_too_fine_to_measure():
    """Where the last table's steps are 1 the indicator says nothing (null), never "not indicated"."""
    image = photo(384, 512, seed=7)
    dc = read_provenance(_recompress(encode(image, quality=50), 98))["jpeg"]["double_compression"]
    assert (dc["indicated"], dc["score"]) == (None, None)


def test_double_compression_of_a_tiny_image_is_not_measured():
    dc = read_provenance(encode(photo(48, 64), quality=80))["jpeg"]["double_compression"]
    assert dc["indicated"] is None and dc["score"] is None


def test_exif_thumbnail_that_matches_and_one_that_does_not():
    image = photo(192, 256, seed=1)
    thumb_same = encode(np.asarray(Image.fromarray(image).resize((160, 120))), quality=80)
    thumb_other = encode(np.asarray(Image.fromarray(photo(192, 256, seed=2)).resize((160, 120))), quality=80)
    same = read_provenance(encode(image, quality=90, exif=exif_block(thumbnail=thumb_same)))["exif_thumbnail"]
    other = read_provenance(encode(image, quality=90, exif=exif_block(thumbnail=thumb_other)))[
        "exif_thumbnail"
    ]
    none = read_provenance(encode(image, quality=90, exif=exif_block()))["exif_thumbnail"]
    assert same["present"] and (same["width"], same["height"]) == (160, 120)
    assert same["disagrees"] is False and same["difference"] < 10
    assert other["disagrees"] is True and other["difference"] > 20
    assert none == {"present": False, "width": None, "height": None, "difference": None, "disagrees": None}


def test_a_thumbnail_pointing_outside_the_block_is_a_note():
    block = bytearray(exif_block(thumbnail=b"\xff\xd8" + b"\x00" * 100))
    block = bytes(block[:-60])  # the thumbnail's declared length now runs past the block
    p = read_provenance(encode(photo(), quality=90, exif=block))
    assert p["exif_thumbnail"]["present"] is True and p["exif_thumbnail"]["disagrees"] is None
    assert any("EXIF thumbnail: declared 102 bytes" in n for n in p["notes"])
