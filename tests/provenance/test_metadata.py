"""EXIF/XMP summary, generator traces (PNG text chunks, UserComment, CreatorTool), degradation notes, and
hostile or damaged metadata that must end as notes."""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from deal.provenance import FIELDS, SECTIONS, csv_fields, fields_markdown, read_provenance
from deal.provenance.fields import HOW_TO_READ
from deal.provenance.limits import MAX_TEXT_CHUNK_BYTES
from tests.provenance.builders import encode, exif_block, itxt, photo, pink_noise, png_chunk, png_with_chunks

A1111 = "a castle at dawn\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234"


def test_exif_summary():
    data = encode(
        photo(), quality=90, exif=exif_block(make="Canon", software="GIMP 2.10", gps=True, orientation=6)
    )
    m = read_provenance(data)["metadata"]
    assert m["format"] == "JPEG" and m["exif"] is True
    assert (m["make"], m["software"], m["orientation"], m["gps"]) == ("Canon", "GIMP 2.10", 6, True)
    plain = read_provenance(encode(photo(), quality=90))["metadata"]
    assert plain["exif"] is False and plain["gps"] is False and plain["make"] is None


def test_stable_diffusion_and_comfyui_png_chunks_are_traces():
    info = PngInfo()
    info.add_text("parameters", A1111)
    info.add_text("prompt", '{"3": {"class_type": "KSampler"}}', zip=True)
    info.add_itxt("workflow", '{"nodes": []}', zip=True)
    buf = io.BytesIO()
    Image.fromarray(photo()).save(buf, "PNG", pnginfo=info)
    p = read_provenance(buf.getvalue())
    sources = {t["source"]: t for t in p["generator_traces"]}
    assert set(sources) == {
        "PNG text chunk 'parameters'",
        "PNG text chunk 'prompt'",
        "PNG text chunk 'workflow'",
    }
    assert sources["PNG text chunk 'parameters'"]["excerpt"].startswith("a castle at dawn Negative prompt")
    assert "ComfyUI" in sources["PNG text chunk 'prompt'"]["tool"]
    assert p["notes"] == [] and csv_fields(p)["generator_traces"].count("ComfyUI") == 2


def test_user_comment_software_and_xmp_creator_tool_are_traces():
    data = encode(photo(), quality=90, exif=exif_block(software="Midjourney v6", user_comment=A1111))
    traces = read_provenance(data)["generator_traces"]
    assert [(t["source"], t["tool"]) for t in traces] == [
        ("EXIF Software", "Midjourney"),
        (
            "EXIF UserComment",
            "Stable Diffusion web UI (AUTOMATIC1111, Forge, SD.Next or a compatible front-end)",
        ),
    ]
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description xmp:CreatorTool="Adobe Firefly Image 3" '
        b'Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/'
        b'compositeWithTrainedAlgorithmicMedia"/></rdf:RDF></x:xmpmeta>'
    )
    p = read_provenance(encode(photo(), quality=90, xmp=xmp))
    assert p["metadata"]["creator_tool"] == "Adobe Firefly Image 3"
    assert [t["source"] for t in p["generator_traces"]] == ["XMP CreatorTool", "XMP IPTC DigitalSourceType"]
    # A name that merely contains a tool's name is not a trace.
    assert (
        read_provenance(encode(photo(), quality=90, exif=exif_block(software="Imagenomic")))[
            "generator_traces"
        ]
        == []
    )


def test_oversized_and_bomb_text_chunks_are_notes():
    big = png_chunk(b"tEXt", b"parameters\x00" + b"x" * (MAX_TEXT_CHUNK_BYTES + 10))
    bomb = png_chunk(b"zTXt", b"prompt\x00\x00" + zlib.compress(b"\x00" * (64 * 2**20)))  # 64 MiB inflated
    ok = itxt("workflow", '{"nodes": []}')
    p = read_provenance(png_with_chunks(photo(), [big, bomb, ok]))
    assert any("a tEXt chunk of 4,194,325 bytes was not read" in n for n in p["notes"])
    assert any(
        "zTXt chunk 'prompt': compressed text is corrupt or inflates too large" in n for n in p["notes"]
    )
    assert [t["source"] for t in p["generator_traces"]] == [
        "PNG text chunk 'workflow'"
    ]  # the others still read


def test_truncated_metadata_blocks_are_notes():
    cut = png_with_chunks(
        photo(), [png_chunk(b"tEXt", b"parameters\x00" + b"y" * 50, declared=5000)], truncate=True
    )
    p = read_provenance(cut)
    assert any("declares 5,000 bytes but the file ends first (truncated)" in n for n in p["notes"])
    assert set(p) == set(SECTIONS)
    exif = exif_block(make="Canon")
    damaged = exif[:12] + b"\xff\xff" + exif[14:]  # IFD0 claims 65535 entries
    p = read_provenance(encode(photo(), quality=90, exif=damaged))
    assert set(p) == set(SECTIONS) and p["jpeg"]["quality"] == 90


def test_random_damage_never_raises():
    base = encode(photo(), quality=85, exif=exif_block(make="Canon", user_comment=A1111))
    rng = np.random.default_rng(0)
    for _ in range(40):
        b = bytearray(base)
        for i in rng.integers(0, len(b), 8):
            b[i] = int(rng.integers(0, 256))
        cut = int(rng.integers(2, len(b)))
        for data in (bytes(b), bytes(b[:cut])):
            p = read_provenance(data)
            assert set(p) == set(SECTIONS)
    assert read_provenance(b"not an image")["notes"][0].startswith("image: not read")


def test_degradation_notes():
    small = read_provenance(encode(photo(96, 128), quality=95))["degradation"]
    assert any(n.startswith("very small (128x96 pixels)") for n in small["notes"])
    low = read_provenance(encode(photo(320, 320), quality=40))["degradation"]
    assert any(n.startswith("saved at low JPEG quality (about 40)") for n in low["notes"])
    natural = pink_noise(320, 320, seed=5)
    sharp = read_provenance(encode(natural, "PNG"))["degradation"]
    half = Image.fromarray(natural).resize((160, 160), Image.Resampling.LANCZOS)
    up = np.asarray(half.resize((320, 320), Image.Resampling.BICUBIC))  # a small image upscaled 2x
    upscaled = read_provenance(encode(up, "PNG"))["degradation"]
    assert sharp["notes"] == [] and sharp["high_frequency_ratio"] > 0.04
    assert upscaled["high_frequency_ratio"] < 0.04
    assert any(n.startswith("little fine detail for its size") for n in upscaled["notes"])


def test_every_field_is_documented_in_one_place_and_on_the_docs_page():
    p = read_provenance(encode(photo(), quality=90))
    documented = " ".join(FIELDS)
    for section in ("c2pa", "metadata", "jpeg", "exif_thumbnail", "degradation"):
        for key in [] if section in FIELDS else p[section]:  # a section documented whole, or key by key
            assert key in documented, f"{section}.{key} is not in deal.provenance.fields.FIELDS"
    assert "generator_traces" in FIELDS and "notes" in FIELDS
    page = (Path(__file__).resolve().parents[2] / "docs" / "provenance.md").read_text(encoding="utf-8")
    assert fields_markdown() in page
    assert "A missing manifest is not evidence of editing" in page
    assert all(line in page for line in HOW_TO_READ)  # the report's card, word for word
