"""Provenance an analyst would flag, end to end through a folder run: an editing application in EXIF
Software, and a file whose name says another format than its bytes hold, in the record, the CSV and the
report's table."""

from __future__ import annotations

import csv
import json

from PIL import Image

from deal.provenance import read_provenance
from tests.inference.conftest import smooth_image
from tests.provenance.builders import encode, exif_block, photo


def test_an_editor_in_exif_software_and_a_renamed_tiff_are_flagged_in_the_csv_and_the_table(detector, tmp_path):
    from deal.runs.folder import run_detection

    src = tmp_path / "in"
    src.mkdir()
    (src / "edited.jpg").write_bytes(
        encode(photo(), quality=90, exif=exif_block(software="Adobe Photoshop 25.0 (Windows)"))
    )
    Image.fromarray(smooth_image(96, 128, 2)).save(src / "tiff_named.jpg", format="TIFF")
    Image.fromarray(smooth_image(96, 128, 3)).save(src / "plain.png")
    run_detection([src], tmp_path / "out", detector, save="json", report="html", quiet=True)

    with open(tmp_path / "out" / "results.csv", newline="", encoding="utf-8") as f:
        rows = {row["path"].rsplit("/", 1)[-1]: row for row in csv.DictReader(f)}
    assert rows["edited.jpg"]["editing_software"] == "Adobe Photoshop 25.0 (Windows)"
    assert rows["tiff_named.jpg"]["editing_software"] == "" and rows["plain.png"]["editing_software"] == ""
    assert [rows[n]["format_mismatch"] for n in ("edited.jpg", "tiff_named.jpg", "plain.png")] == ["no", "yes", "no"]

    records = {
        r["path"].rsplit("/", 1)[-1]: r
        for r in map(json.loads, (tmp_path / "out" / "results.jsonl").read_text().splitlines())
    }
    tiff = records["tiff_named.jpg"]["provenance"]
    assert tiff["metadata"]["format"] == "TIFF" and tiff["metadata"]["extension_matches"] is False
    assert (
        "format: the file is named .jpg but its bytes are TIFF (renamed, or saved by a program that kept the "
        "old name)"
    ) in tiff["notes"]

    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert html.count('<span class="flag">editing software</span>') == 1
    assert html.count('<span class="flag">format mismatch</span>') == 1


def test_editing_software_is_matched_as_a_word_in_software_or_creator_tool():
    def software(value: str) -> str | None:
        return read_provenance(encode(photo(), quality=90, exif=exif_block(software=value)))["metadata"][
            "editing_software"
        ]

    assert software("GIMP 2.10.36") == "GIMP 2.10.36"
    assert software("Adobe Photoshop Lightroom Classic 13.1") == "Adobe Photoshop Lightroom Classic 13.1"
    assert software("Canon EOS R5 Firmware 1.8.1") is None
    assert software("Gimpel Camera 2") is None  # a word that merely starts like an editor's name
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description xmp:CreatorTool="Pixelmator Pro 3.5"/></x:xmpmeta>'
    p = read_provenance(encode(photo(), quality=90, xmp=xmp))
    assert p["metadata"]["editing_software"] == "Pixelmator Pro 3.5"
    assert p["metadata"]["extension_matches"] is None  # no name given: nothing to compare
