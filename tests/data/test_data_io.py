from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from deal.data import DatasetError, read_image, read_mask


def test_read_image_rgb_png_roundtrip(tmp_path, write_rgb):
    written = write_rgb(tmp_path / "a.png", 5, 7)
    got = read_image(tmp_path / "a.png")
    assert got.dtype == np.uint8 and got.shape == (5, 7, 3)
    np.testing.assert_array_equal(got, written)


def test_read_image_gray_palette_rgba(tmp_path):
    Image.fromarray(np.array([[0, 100], [200, 255]], np.uint8)).save(tmp_path / "g.png")
    np.testing.assert_array_equal(read_image(tmp_path / "g.png")[..., 1], [[0, 100], [200, 255]])
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 77, 0  # fully transparent: the stored colour is kept, not composited
    Image.fromarray(rgba).save(tmp_path / "a.png")
    assert read_image(tmp_path / "a.png")[0, 0].tolist() == [77, 0, 0]
    pal = Image.new("P", (3, 2))
    pal.putpalette([0, 0, 0, 10, 20, 30] + [0] * 762)
    pal.putpixel((1, 0), 1)
    pal.save(tmp_path / "p.png")
    assert read_image(tmp_path / "p.png")[0, 1].tolist() == [10, 20, 30]


def test_read_image_16bit_is_scaled_not_clipped(tmp_path):
    arr = np.array([[0, 257, 32896, 65535]], np.uint16)
    Image.fromarray(arr).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    got = read_image(tmp_path / "g16.png")
    assert got.shape == (1, 4, 3)
    assert got[0, :, 0].tolist() == [0, 1, 128, 255]


def test_read_image_cmyk_jpeg(tmp_path):
    cmyk = Image.new("CMYK", (8, 8), (0, 0, 0, 0))  # no ink: white
    cmyk.paste((255, 0, 0, 0), (0, 0, 4, 8))  # full cyan on the left half
    cmyk.save(tmp_path / "c.jpg", quality=100)
    got = read_image(tmp_path / "c.jpg").astype(int)
    assert got.shape == (8, 8, 3)
    assert np.abs(got[4, 6] - [255, 255, 255]).max() <= 3
    assert np.abs(got[4, 1] - [0, 255, 255]).max() <= 3


def test_read_image_applies_exif_orientation(tmp_path):
    img = Image.new("RGB", (6, 4), (10, 20, 30))  # 6 wide, 4 high
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 CW on display
    img.save(tmp_path / "r.jpg", exif=exif.tobytes())
    assert read_image(tmp_path / "r.jpg").shape == (6, 4, 3)


def test_read_image_errors_name_the_file(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(DatasetError, match="broken.jpg"):
        read_image(bad)
    with pytest.raises(DatasetError, match="not found: .*nope.png"):
        read_image(tmp_path / "nope.png")
    trunc = tmp_path / "trunc.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(trunc)
    trunc.write_bytes(trunc.read_bytes()[:200])
    with pytest.raises(DatasetError, match="trunc.png"):
        read_image(trunc)


def test_read_mask_binarizes_above_127(tmp_path):
    Image.fromarray(np.array([[0, 127, 128, 255]], np.uint8)).save(tmp_path / "m.png")
    m = read_mask(tmp_path / "m.png")
    assert m.dtype == np.uint8 and m.tolist() == [[0, 0, 1, 1]]


def test_read_mask_colour_and_16bit(tmp_path):
    rgb = np.zeros((1, 3, 3), np.uint8)
    rgb[0, 1] = (255, 0, 0)  # pure red counts as marked (luminance would be 76)
    Image.fromarray(rgb).save(tmp_path / "c.png")
    assert read_mask(tmp_path / "c.png").tolist() == [[0, 1, 0]]
    Image.fromarray(np.array([[0, 65535]], np.uint16)).save(tmp_path / "m16.png")
    assert read_mask(tmp_path / "m16.png").tolist() == [[0, 1]]


def test_read_mask_size_mismatch_names_both_files(tmp_path):
    Image.fromarray(np.zeros((4, 5), np.uint8)).save(tmp_path / "m.png")
    with pytest.raises(DatasetError) as err:
        read_mask(tmp_path / "m.png", expected_hw=(4, 6), image_path=tmp_path / "img.jpg")
    msg = str(err.value)
    assert "m.png is 5x4" in msg and "img.jpg is 6x4" in msg
    assert read_mask(tmp_path / "m.png", expected_hw=(4, 5)).shape == (4, 5)


def test_read_mask_on_fixture_gives_readme_fractions(deal_fixture):
    fractions = {
        "000000000009_qwen120": (384, 512, 0.041),
        "000000000459_qwen120": (512, 448, 0.064),
        "000000436603_qwen120": (384, 576, 0.292),
    }
    for stem, (h, w, frac) in fractions.items():
        m = read_mask(deal_fixture / "label" / f"{stem}.png", expected_hw=(h, w))
        assert set(np.unique(m).tolist()) == {0, 1}
        assert round(float(m.mean()), 3) == frac
