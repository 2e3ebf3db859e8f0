"""Decoding inputs: orientation, bit depth, colour modes, frames, and every kind of bad input."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from deal.imageio import ImageLoadError, load_any, load_image_file
from tests.inference.conftest import smooth_image


def test_exif_orientation_6_gives_the_displayed_image(tmp_path):
    stored = np.zeros((40, 60, 3), dtype=np.uint8)  # stored 60 wide, 40 high
    stored[:20, :30] = 255  # bright top-left quadrant
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed rotated 90 degrees clockwise
    path = tmp_path / "rotated.jpg"
    Image.fromarray(stored).save(path, exif=exif, quality=95)
    loaded = load_image_file(path)
    assert loaded.array.shape == (60, 40, 3)
    # Rotating clockwise moves the top-left quadrant to the top-right.
    quadrants = [loaded.array[:30, 20:].mean(), loaded.array[:30, :20].mean(), loaded.array[30:].mean()]
    assert quadrants[0] > 200 and quadrants[1] < 30 and quadrants[2] < 30
    assert loaded.notes == ["EXIF orientation 6 applied"]


def test_16bit_png_is_scaled_not_clipped(tmp_path):
    gradient = np.linspace(0, 65535, 256 * 4, dtype=np.float64).round().astype(np.uint16).reshape(4, 256)
    path = tmp_path / "gray16.png"
    Image.fromarray(gradient).save(path)
    assert Image.open(path).mode in ("I;16", "I")
    loaded = load_image_file(path)
    expected = np.rint(gradient.astype(np.float64) * 255 / 65535).astype(np.uint8)
    assert np.array_equal(loaded.array[..., 0], expected)
    assert np.array_equal(loaded.array[..., 0], loaded.array[..., 2])
    assert loaded.array[0, 128, 0] == expected[0, 128] and 0 < expected[0, 128] < 255  # mid-grey, not 255


def test_cmyk_jpeg_is_converted_to_rgb(tmp_path):
    img = Image.new("CMYK", (32, 16), (0, 255, 255, 0))  # pure red in CMYK
    path = tmp_path / "cmyk.jpg"
    img.save(path, quality=95)
    assert Image.open(path).mode == "CMYK"
    rgb = load_image_file(path).array
    assert rgb.shape == (16, 32, 3)
    r, g, b = rgb.reshape(-1, 3).mean(axis=0)
    assert r > 240 and g < 15 and b < 15


def test_alpha_dropped_palette_converted_animation_noted(tmp_path):
    rgba = np.zeros((8, 8, 4), dtype=np.uint8)
    rgba[..., :3] = (10, 20, 30)  # fully transparent: the stored colour is kept, not composited on white
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    assert load_image_file(tmp_path / "a.png").array[0, 0].tolist() == [10, 20, 30]

    Image.fromarray(smooth_image(16, 16, 0)).convert("P").save(tmp_path / "p.png")
    pal = Image.open(tmp_path / "p.png")
    assert np.array_equal(load_image_file(tmp_path / "p.png").array, np.asarray(pal.convert("RGB")))

    frames = [Image.new("RGB", (8, 6), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    loaded = load_image_file(tmp_path / "anim.gif")
    assert loaded.array.shape == (6, 8, 3) and loaded.array[0, 0, 0] > 200  # the first (red) frame
    assert any("2 frames" in n for n in loaded.notes)


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("empty", "empty file (0 bytes)"),
        ("text", "not an image"),
        ("truncated", "corrupt or truncated"),
        ("bomb", "decompression bomb"),
        ("over_limit", "over the limit of 1,000"),
        ("missing", "no such file"),
        ("folder", "is a folder"),
    ],
)
def test_bad_inputs_raise_messages_naming_the_file(tmp_path, kind, expected):
    path = tmp_path / f"{kind}.png"
    max_pixels = 100_000_000
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("this is not an image\n")
    elif kind == "truncated":
        Image.fromarray(smooth_image(64, 64, 1)).save(path)
        path.write_bytes(path.read_bytes()[:300])
    elif kind == "bomb":
        path.write_bytes(_png_header_only(20_000, 20_000))  # 400 megapixels declared in 57 bytes
    elif kind == "over_limit":
        Image.fromarray(smooth_image(50, 50, 1)).save(path)
        max_pixels = 1000
    elif kind == "folder":
        path.mkdir()
    with pytest.raises(ImageLoadError) as info:
        load_image_file(path, max_pixels=max_pixels)
    assert str(path) in str(info.value) and expected in str(info.value)


def test_in_memory_inputs_are_equivalent():
    img = smooth_image(12, 10, 3)
    ref = load_any(img).array
    assert np.array_equal(ref, img)
    t = torch.from_numpy(img)
    assert np.array_equal(load_any(t).array, img)  # HxWx3 uint8 tensor
    assert np.array_equal(load_any(t.permute(2, 0, 1)).array, img)  # 3xHxW
    assert np.array_equal(load_any(t.permute(2, 0, 1).float() / 255).array, img)  # float in [0, 1]
    assert np.array_equal(load_any(Image.fromarray(img)).array, img)
    with pytest.raises(ImageLoadError, match=r"\[0, 1\]"):
        load_any(t.float())
    with pytest.raises(ImageLoadError, match="type int"):
        load_any(3)
