"""Classic forensic views in every run: deal detect --views, Detection.views, the report's layers.

A folder of mixed JPEG and PNG images (one with a copied patch) runs through the CLI with every view; each
view's map is written at the image's size beside the heatmap and named in the record; the JPEG view says
"not applicable" for the PNGs; the report shows the layers with their reliability lines from the shipped
file, and switching a layer in headless Chromium paints that view's map over the image.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from deal.baselines.views import VIEWS, View, run_view
from deal.baselines.views.jpeg_grid import NOT_APPLICABLE
from deal.baselines.views.reliability import reliability_line
from deal.cli.main import main
from tests.inference.chromium import Browser, chromium_available
from tests.inference.conftest import smooth_image

ALL = ",".join(VIEWS)


def _shapes(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth image with 80 small discs and boxes of random colours: corners for keypoints."""
    rng = np.random.default_rng(seed)
    image = smooth_image(h, w, seed)
    for _ in range(80):
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        x, y, r = int(rng.integers(0, w)), int(rng.integers(0, h)), int(rng.integers(3, 14))
        if rng.random() < 0.5:
            cv2.circle(image, (x, y), r, colour, -1)
        else:
            cv2.rectangle(image, (x, y), (x + r, y + int(rng.integers(3, 14))), colour, -1)
    return image


SOURCE, TARGET = (slice(32, 128), slice(24, 120)), (slice(32, 128), slice(200, 296))


def _mixed_folder(root: Path) -> Path:
    """photo.png, photo.jpg (quality 75) and clone.png (a 96x96 patch copied 176 px to the right)."""
    root.mkdir(parents=True)
    Image.fromarray(smooth_image(160, 224, 1)).save(root / "photo.png")
    Image.fromarray(smooth_image(200, 256, 2)).save(root / "photo.jpg", quality=75)
    clone = _shapes(192, 320, 5)
    clone[TARGET] = clone[SOURCE]
    Image.fromarray(clone).save(root / "clone.png")
    return root


@pytest.fixture(scope="module")
def views_run(detector_file, tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("views")
    folder, out = _mixed_folder(tmp / "in"), tmp / "out"
    argv = ["detect", str(folder), "--out", str(out), "--detector", str(detector_file), "--device", "cpu"]
    assert main([*argv, "--views", ALL, "--report", "html", "--quiet"]) == 0
    return out


def _records(out: Path) -> dict[str, dict]:
    lines = (out / "results.jsonl").read_text().splitlines()
    return {Path(r["path"]).name: r for r in map(json.loads, lines)}


def test_every_view_map_is_written_at_the_image_size_and_named_in_the_record(views_run):
    records = _records(views_run)
    assert set(records) == {"photo.png", "photo.jpg", "clone.png"}
    for name, record in records.items():
        assert record["error"] is None and list(record["views"]) == list(VIEWS)
        for view in VIEWS:
            entry, rel = record["views"][view], record["outputs"].get(f"view-{view}")
            if view == "jpeg" and name.endswith(".png"):  # no JPEG grid in these pixels
                assert rel is None and entry["score"] is None and entry["note"].startswith(NOT_APPLICABLE)
                continue
            assert rel == f"{name}.view-{view}.png" and entry["note"] is None or view == "copymove"
            gray = cv2.imread(str(views_run / rel), cv2.IMREAD_GRAYSCALE)
            assert gray.shape == (record["height"], record["width"]) and 0.0 <= entry["score"] <= 1.0
    clone = records["clone.png"]
    assert clone["views"]["copymove"] == {**clone["views"]["copymove"], "score": 1.0, "note": "1 copied region pair(s) found"}
    marked = cv2.imread(str(views_run / clone["outputs"]["view-copymove"]), cv2.IMREAD_GRAYSCALE) > 127
    assert marked[SOURCE].mean() > 0.7 and marked[TARGET].mean() > 0.7 and marked.mean() < 0.3  # measured 0.80, 0.80, 0.24
    with open(views_run / "results.csv", newline="") as f:
        row = {Path(r["path"]).name: r for r in csv.DictReader(f)}["photo.png"]
    assert row["views"].startswith("ela=") and "jpeg=n/a" in row["views"]
    assert json.loads((views_run / "run.json").read_text())["options"]["views"] == list(VIEWS)


def test_a_rerun_with_the_same_or_fewer_views_skips_every_image(views_run, detector_file, capsys):
    folder = Path(_records(views_run)["photo.png"]["path"]).parent
    argv = ["detect", str(folder), "--out", str(views_run), "--detector", str(detector_file), "--device", "cpu"]
    assert main([*argv, "--views", "ela,copymove", "--report", "html"]) == 0
    assert "(3 already done)" in capsys.readouterr().err


def test_the_report_lists_each_layer_with_its_reliability_line(views_run):
    html = (views_run / "report.html").read_text()
    for view in VIEWS.values():
        assert f'value="{view.name}"' in html and reliability_line(view.baseline) in html
    assert html.count('class="layer-choice"') == 3 and "reliability not measured for this detector" in html
    layers = sorted(p.name for p in (views_run / ".deal" / "report").glob("clone.png.layer-*.jpg"))
    assert layers == [f"clone.png.layer-{v}.jpg" for v in sorted(VIEWS) if v != "jpeg"]


def test_switching_layers_in_headless_chromium_paints_each_view(views_run, tmp_path):
    if not chromium_available():
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it)")
    records = sorted(_records(views_run).values(), key=lambda r: -r["score"])
    row = [Path(r["path"]).name for r in records].index("clone.png")
    state_js = (
        "new Promise(done => { const img = document.querySelector('#view-%d img.layer');"
        " const report = () => { img.scrollIntoView(); const r = img.getBoundingClientRect(); done({src: img.getAttribute('src'),"
        " w: img.naturalWidth, x: r.x, y: r.y,"
        " checked: document.querySelector('#view-%d .layer-choice input:checked').value}); };"
        " img.complete && img.naturalWidth && img.getAttribute('src').includes(WANTED) ? report()"
        " : img.addEventListener('load', report, {once: true}); })"
    )
    shots = {}
    with Browser(1400, 1100) as browser:
        # #view=N&layer=NAME opens the row on a layer; a real click on a layer's button switches it
        browser.open((views_run / "report.html").resolve().as_uri() + f"#view={row}&layer=model")
        browser.evaluate(f"document.querySelector('#view-{row} img.layer').scrollIntoView()")
        for layer in ("model", "copymove"):
            if layer != "model":
                box = browser.evaluate(
                    f"(() => {{ const r = document.querySelector('#view-{row} input[value=\"{layer}\"]')"
                    ".getBoundingClientRect(); return {x: r.x + r.width / 2, y: r.y + r.height / 2}; })()"
                )
                browser.click(box["x"], box["y"])
            wanted = "overlay" if layer == "model" else f"layer-{layer}"
            state = browser.evaluate((state_js % (row, row)).replace("WANTED", repr(wanted)))
            assert state["checked"] == layer and state["w"] == 320, state
            shot = np.asarray(Image.open(io.BytesIO(browser.screenshot())).convert("RGB")).astype(float)
            Image.fromarray(shot.astype(np.uint8)).save(tmp_path / f"layer-{layer}.png")
            x, y = round(state["x"]), round(state["y"])
            assert 0 <= x and x + 320 <= shot.shape[1] and 0 <= y and y + 192 <= shot.shape[0], state
            shots[layer] = (state["src"], shot[y : y + 192, x : x + 320])
    print(f"screenshots: {tmp_path}")
    assert shots["model"][0].endswith("clone.png.overlay.jpg")
    assert shots["copymove"][0].endswith("clone.png.layer-copymove.jpg")
    model, copymove = shots["model"][1], shots["copymove"][1]
    assert model.shape == copymove.shape == (192, 320, 3) and copymove.std() > 15
    # the copy-move layer colours the source and the target patches (viridis yellow), not the rest
    yellow = lambda crop: ((crop[..., 0] > 150) & (crop[..., 1] > 150) & (crop[..., 2] < 120)).mean()  # noqa: E731
    assert yellow(copymove[SOURCE]) > 0.5 and yellow(copymove[TARGET]) > 0.5
    assert yellow(copymove[140:, :]) < 0.05 and np.abs(model - copymove).mean() > 5


def test_a_failing_view_is_a_note_in_the_record_and_views_run_in_the_decoding_threads(
    detector, tmp_path, monkeypatch
):
    from deal.baselines import views as views_module
    from deal.runs.folder import run_detection

    threads = []

    def broken(image):
        threads.append(threading.current_thread().name)
        raise RuntimeError("out of luck")

    monkeypatch.setitem(views_module.VIEWS, "noise", View("noise", "noise", "Noise", "x", broken))
    folder = _mixed_folder(tmp_path / "in")
    summary = run_detection([folder], tmp_path / "out", detector, views=["noise", "ela"], workers=2, quiet=True)
    assert summary.n_failed == 0 and summary.exit_code == 0
    records = _records(tmp_path / "out")
    for record in records.values():
        assert record["views"]["noise"]["note"] == "the noise view failed: RuntimeError: out of luck"
        assert record["views"]["noise"]["failed"] and "view-noise" not in record["outputs"]
        assert "view-ela" in record["outputs"]
    assert len(threads) == 3 and all(name.startswith("deal-decode") for name in threads)


def test_detection_views_in_the_python_api_are_the_views_of_the_image(detector):
    image = smooth_image(96, 128, 5)
    d = detector.predict(image, views=["ela", "copymove"])
    assert list(d.views) == ["ela", "copymove"]
    assert np.array_equal(d.views["ela"].map, run_view("ela", image).map) and d.views["ela"].map.shape == (96, 128)
    (streamed,) = list(detector.predict_many([image], workers=2, views="ela,copymove"))
    assert np.array_equal(streamed.views["ela"].map, d.views["ela"].map)
    assert detector.predict(image).views == {}
    with pytest.raises(ValueError, match="unknown view 'sift'"):
        detector.predict(image, views=["sift"])


def test_an_unknown_view_is_a_usage_error(detector_file, tmp_path, capsys):
    argv = ["detect", str(tmp_path), "--out", str(tmp_path / "o"), "--detector", str(detector_file)]
    assert main([*argv, "--views", "ela,sift"]) == 2
    assert "--views: unknown view 'sift'; choose from ela, noise, jpeg, spectral, copymove" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
