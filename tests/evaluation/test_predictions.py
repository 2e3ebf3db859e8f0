"""Reading prediction maps (.npy, 8/16-bit .png, TruFor .npz) and finding them by record name."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from deal.data.sample import Record
from deal.evaluation.predictions import PredictionError, PredictionIndex, load_prediction


def _record(name: str, image: str | None = None) -> Record:
    return Record(image=image or f"/data/{name}.jpg", mask=None, label=0, name=name)


def test_npy_png8_png16_npz_values(tmp_path):
    np.save(tmp_path / "a.npy", np.array([[0.0, 0.25], [0.5, 1.0]], dtype=np.float32)[None])  # 1xHxW squeezes
    cv2.imwrite(str(tmp_path / "b.png"), np.array([[0, 51], [255, 128]], dtype=np.uint8))
    cv2.imwrite(str(tmp_path / "c.png"), np.array([[0, 65535], [13107, 32768]], dtype=np.uint16))
    np.savez(
        tmp_path / "d.npz",
        map=np.array([[0.1, 0.9]], dtype=np.float64),
        score=np.array(0.75),
        conf=np.ones(2),
    )
    a = load_prediction(tmp_path / "a.npy")
    assert a.probs.dtype == np.float32 and a.probs.tolist() == [[0.0, 0.25], [0.5, 1.0]] and a.score is None
    np.testing.assert_allclose(
        load_prediction(tmp_path / "b.png").probs, [[0, 0.2], [1.0, 128 / 255]], rtol=1e-6
    )
    np.testing.assert_allclose(
        load_prediction(tmp_path / "c.png").probs, [[0, 1.0], [0.2, 32768 / 65535]], rtol=1e-6
    )
    d = load_prediction(tmp_path / "d.npz")
    np.testing.assert_allclose(d.probs, [[0.1, 0.9]], rtol=1e-6)
    assert d.score == 0.75


def test_png_with_equal_colour_channels_is_accepted_else_error(tmp_path):
    gray = np.array([[10, 200]], dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "rgb.png"), np.stack([gray] * 3, axis=2))
    np.testing.assert_allclose(
        load_prediction(tmp_path / "rgb.png").probs, [[10 / 255, 200 / 255]], rtol=1e-6
    )
    colour = np.zeros((1, 2, 3), dtype=np.uint8)
    colour[0, 0, 2] = 255
    cv2.imwrite(str(tmp_path / "heat.png"), colour)
    with pytest.raises(PredictionError, match="heat.png has 3 different colour channels"):
        load_prediction(tmp_path / "heat.png")


def test_bad_files_name_the_file(tmp_path):
    np.save(tmp_path / "big.npy", np.array([[0.0, 1.5]], dtype=np.float32))
    np.save(tmp_path / "nan.npy", np.array([[0.0, np.nan]], dtype=np.float32))
    np.save(tmp_path / "ints.npy", np.array([[0, 255]], dtype=np.uint8))
    np.save(tmp_path / "vol.npy", np.zeros((2, 3, 3), dtype=np.float32))
    np.savez(tmp_path / "nomap.npz", pred=np.zeros((2, 2)))
    (tmp_path / "broken.png").write_bytes(b"not a png")
    cases = {
        "big.npy": "big.npy must hold values in \\[0, 1\\], found min 0, max 1.5",
        "nan.npy": "NaN",
        "ints.npy": "ints.npy must hold floats",
        "vol.npy": "vol.npy must be an HxW map",
        "nomap.npz": "nomap.npz has no 'map' array \\(found: pred\\)",
        "broken.png": "broken.png",
    }
    for name, message in cases.items():
        with pytest.raises(PredictionError, match=message):
            load_prediction(tmp_path / name)


def test_index_finds_by_relative_name_stem_and_image_stem(tmp_path):
    (tmp_path / "deep" / "er").mkdir(parents=True)
    (tmp_path / "sub").mkdir()
    for rel in ("deep/er/x.png", "sub/y.npy", "y2.npz", "sub/z.npy", "other/z.npy", ".hidden/w.npy"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    (tmp_path / "notes.txt").write_text("ignored")
    index = PredictionIndex(tmp_path)
    assert len(index) == 5  # hidden folder and other suffixes skipped
    assert index.find(_record("x")) == tmp_path / "deep/er/x.png"  # stem, recursively
    assert index.find(_record("sub/y")) == tmp_path / "sub/y.npy"  # name as a relative path
    assert index.find(_record("something", image="/data/imgs/y2.jpg")) == tmp_path / "y2.npz"  # image stem
    assert index.find(_record("sub/z")) == tmp_path / "sub/z.npy"  # relative path disambiguates
    with pytest.raises(PredictionError, match="2 prediction files match 'z'"):
        index.find(_record("z"))
    assert index.find(_record("w")) is None
    with pytest.raises(PredictionError, match="2 of 3 images have no prediction .* w, missing_one"):
        index.resolve([_record("x"), _record("w"), _record("missing_one")])


def test_deal_detect_names_and_records(tmp_path):
    """deal detect's outputs: <file name>.npz / .heatmap.png (folders matched against the image's), and
    its records (results.jsonl, sidecars), which give the heatmap's image score."""
    import json

    from deal.report.outputs import output_name

    for rel in ("fake/x.png", "real/x.png"):
        (tmp_path / "names" / rel).parent.mkdir(parents=True, exist_ok=True)
        np.savez(tmp_path / "names" / output_name(rel, "npz"), map=np.zeros((2, 2), np.float32), score=0.5)
    index = PredictionIndex(tmp_path / "names")
    found = index.locate(_record("x", image="/data/ds/fake/x.png"))
    assert found.path == tmp_path / "names/fake/x.png.npz" and found.source == "deal detect npz"
    with pytest.raises(PredictionError, match="2 prediction files match /elsewhere/x.png"):
        index.locate(_record("x", image="/elsewhere/x.png"))

    out = tmp_path / "detect"
    (out / "a").mkdir(parents=True)
    cv2.imwrite(str(out / "a" / "y.jpg.heatmap.png"), np.full((2, 2), 51, np.uint8))
    records = [
        {
            "path": "/data/a/y.jpg",
            "score": 0.25,
            "image_threshold_low": 0.4,
            "image_threshold_high": 0.9,
            "error": None,
            "outputs": {"npz": "a/y.jpg.npz", "heatmap": "a/y.jpg.heatmap.png"},
        },  # npz not here: the heatmap
        {"path": "/data/a/z.jpg", "score": None, "error": "z.jpg: cannot decode", "outputs": {}},
    ]
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    index = PredictionIndex(out)
    found = index.locate(_record("y", image="/data/a/y.jpg"))
    assert (found.path, found.score, found.image_thresholds) == (out / "a/y.jpg.heatmap.png", 0.25, (0.4, 0.9))
    assert found.source == "deal detect heatmap"
    np.testing.assert_allclose(load_prediction(found.path).probs, 0.2)
    assert index.locate(_record("z", image="/data/a/z.jpg")) is None  # failed in detect: no map
    with pytest.raises(
        PredictionError, match=r"1 of 2 images have no prediction .*deal detect --save npz.*: z"
    ):
        index.resolve([_record("y", image="/data/a/y.jpg"), _record("z", image="/data/a/z.jpg")])
