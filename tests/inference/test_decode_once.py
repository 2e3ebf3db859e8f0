"""The decoder's one rule for every input: EXIF orientation for PIL images as for files, one decode of a
file for its pixels and its provenance, one pixel limit in one message, and the pixels of a PNG whose text
chunk Pillow refuses."""

from __future__ import annotations

import io
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile

from deal.imageio import DEFAULT_MAX_PIXELS, ImageLoadError, load_any, load_image_file
from deal.provenance import ProvenanceOptions
from tests.inference.conftest import smooth_image
from tests.inference.test_image_loading import _png_header_only
from tests.provenance.builders import itxt, png_chunk, png_with_chunks


def _rotated_jpeg(path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(smooth_image(40, 64, 3)).save(path, exif=exif, quality=95)


def test_a_pil_image_gets_the_exif_rotation_a_file_gets(tmp_path):
    path = tmp_path / "rotated.jpg"
    _rotated_jpeg(path)
    from_file = load_image_file(path)
    with Image.open(path) as img:
        from_pil = load_any(img)
    assert from_pil.array.shape == (64, 40, 3) and np.array_equal(from_pil.array, from_file.array)
    assert from_pil.notes == from_file.notes == ["EXIF orientation 6 applied"]


def test_a_file_is_decoded_once_for_its_pixels_and_its_provenance(tmp_path, monkeypatch):
    path = tmp_path / "photo.jpg"
    Image.fromarray(smooth_image(256, 320, 4)).save(path, quality=90)
    decodes = []
    load = ImageFile.ImageFile.load

    def counting(self):
        if self.tile:  # a load that decodes (an image already loaded has no tiles left)
            decodes.append(self.format)
        return load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting)
    loaded = load_image_file(path, provenance=ProvenanceOptions())
    assert decodes == ["JPEG"]
    assert loaded.provenance["jpeg"]["quality"] == 90 and loaded.provenance["degradation"] is not None


def _workflow_png(array: np.ndarray, chunk: bytes) -> bytes:
    return png_with_chunks(array, [chunk])


@pytest.mark.parametrize("kind", ["zTXt", "iTXt"])
def test_a_png_with_a_text_chunk_over_pillows_limit_is_decoded_and_the_chunk_noted(tmp_path, kind):
    """A 1.5 MiB ComfyUI workflow (Pillow refuses text over 1 MiB): the pixels decode exactly, the record
    notes the chunk (keyword, size, skipped), and the provenance reader still reads it as a trace."""
    array = smooth_image(64, 80, 5)
    workflow = '{"nodes": [' + ",".join(f'{{"id": {i}}}' for i in range(150_000)) + "]}"
    assert 2**20 < len(workflow) < 4 * 2**20
    if kind == "zTXt":
        chunk = png_chunk(b"zTXt", b"workflow\x00\x00" + zlib.compress(workflow.encode()))
    else:
        chunk = itxt("workflow", workflow)
    path = tmp_path / "comfy.png"
    path.write_bytes(_workflow_png(array, chunk))
    with pytest.raises(ValueError, match="too large"):  # what Pillow alone does with these bytes
        Image.open(io.BytesIO(path.read_bytes())).load()
    loaded = load_image_file(path, provenance=ProvenanceOptions())
    assert np.array_equal(loaded.array, array)
    body = len(chunk) - 12
    assert (
        f"PNG: {kind} chunk 'workflow' of {body:,} bytes was skipped to decode the pixels (its text inflates "
        "past Pillow's 1 MiB limit for one chunk)"
    ) in loaded.provenance["notes"]
    assert [t["source"] for t in loaded.provenance["generator_traces"]] == ["PNG text chunk 'workflow'"]
    assert np.array_equal(load_image_file(path).array, array)  # without provenance too
    from deal.serve.uploads import check_image_bytes  # deal serve's upload check opens it the same way

    size = check_image_bytes(path.read_bytes(), "comfy.png", max_bytes=2**30, max_pixels=DEFAULT_MAX_PIXELS)
    assert size == (80, 64)


def test_one_pixel_limit_in_one_message_whatever_pillows_guard_says(tmp_path):
    """A header declaring 400 megapixels trips Pillow's own guard (twice its limit) before ours: the message
    names deal's limit, never Pillow's 200,000,000."""
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header_only(20_000, 20_000))
    with pytest.raises(ImageLoadError) as info:
        load_image_file(path)
    assert str(info.value) == (
        f"{path}: image is over the limit of {DEFAULT_MAX_PIXELS:,} pixels (a possible decompression bomb); "
        "raise --max-pixels to process it"
    )
    path.write_bytes(_png_header_only(12_000, 10_000))  # 120 megapixels: ours refuses it, with its size
    with pytest.raises(ImageLoadError) as info:
        load_image_file(path)
    assert str(info.value) == (
        f"{path}: image is 12000x10000 = 120,000,000 pixels, over the limit of {DEFAULT_MAX_PIXELS:,} pixels "
        "(a possible decompression bomb); raise --max-pixels to process it"
    )
