"""The HTML report: verdict counts and rule, banner, legend, bounded deterministic bytes, links inside the
output tree, the overlay's legibility on red subjects, and (in headless Chromium) a click on the first row
opening a view whose four images are not blank."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import re
from html import unescape
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from deal.cli.main import main
from deal.report.html import (
    BUNDLED_KEY,
    VERDICT_RULE,
    render_report,
    thresholds_of,
)
from deal.report.outputs import OVERLAY_ALPHA, colormap_lut, contour_rgb, heatmap_rgb, overlay_rgb
from deal.report.views import View
from tests.inference.chromium import Browser, chromium_available
from tests.inference.conftest import smooth_image

N_COCOGLIDE = 3


def _record(i: int, score: float, verdict: str, **extra) -> dict:
    return {
        "path": f"/in/img{i}.png",
        "width": 64,
        "height": 48,
        "score": score,
        "verdict": verdict,
        "edited_fraction": 0.1,
        "n_regions": 1,
        "inference": "native",
        "error": None,
        "threshold": 0.13,
        "image_threshold_low": 0.4,
        "image_threshold_high": 0.9,
        **extra,
    }


RECORDS = [
    _record(0, 0.95, "edited"),
    _record(1, 0.5, "inconclusive"),
    _record(2, 0.1, "authentic"),
    _record(3, 0.92, "edited"),
    {"path": "/in/bad.png", "error": "/in/bad.png: empty file (0 bytes)"},
]
SETTINGS = {"detector": "my-detector", "detector sha256": "ab" * 32, BUNDLED_KEY: False}


def _render(records=RECORDS, **kwargs) -> str:
    kwargs.setdefault("settings", SETTINGS)
    return render_report(((i, r, None) for i, r in enumerate(records)), **kwargs)


def test_summary_counts_all_three_verdicts_and_the_legend_states_the_rule():
    html = _render()
    summary = re.search(r'<p class="summary" id="summary">(.*?)</p>', html).group(1)
    assert summary.startswith("5 images: 2 edited, 1 inconclusive, 1 authentic, 1 failed.")
    legend = unescape(re.search(r'<dl class="legend" id="legend">(.*?)</dl>', html, re.S).group(1))
    assert VERDICT_RULE in legend
    assert "image_threshold_low = 0.400" in legend and "image_threshold_high = 0.900" in legend
    assert "threshold = 0.130" in legend
    # inconclusive has its own style, distinct from the two others
    assert html.count('<span class="v v-inconclusive">inconclusive</span>') == 3  # legend, its row, its view
    css = re.search(r"<style>(.*?)</style>", html, re.S).group(1)
    rules = {
        v: re.search(rf"\.v-{v}\{{(.*?)\}}", css, re.S).group(1)
        for v in ("edited", "authentic", "inconclusive")
    }
    assert len(set(rules.values())) == 3
    # each row has a view, in score order, with the rule and this row's numbers
    assert re.findall(r'<tr data-view="(\d+)"', html) == ["0", "1", "2", "3"]
    assert html.index("/in/img0.png") < html.index("/in/img3.png") < html.index("/in/img1.png")
    assert len(re.findall(r'<div class="view" id="view-\d+" hidden', html)) == 4


def test_older_records_with_one_image_threshold_render():
    old = [
        {k: v for k, v in _record(0, 0.95, "edited").items() if not k.startswith("image_threshold_")},
        {k: v for k, v in _record(1, 0.2, "authentic").items() if not k.startswith("image_threshold_")},
    ]
    for r in old:
        r["image_threshold"] = 0.93
    assert thresholds_of(old[0]) == (0.13, 0.93, 0.93)
    html = _render(old)
    assert "2 images: 1 edited, 0 inconclusive, 1 authentic, 0 failed." in html
    assert "image_threshold_low = 0.930" in html and "image_threshold_high = 0.930" in html


def test_banner_names_the_detector_and_flags_the_bundled_one():
    plain = _render()
    banner = re.search(r'<div class="banner[^"]*" id="banner">(.*?)</div>', plain).group(1)
    assert "my-detector" in banner and "abababababab" in banner and "demonstration" not in banner
    demo = _render(settings={**SETTINGS, "detector": "deal-demo-tiny-synth", BUNDLED_KEY: True})
    banner = re.search(r'<div class="banner demo" id="banner">(.*?)</div>', demo).group(1)
    assert (
        "deal-demo-tiny-synth" in banner
        and "demonstration detector" in banner
        and "synthetic edits" in banner
    )
    assert BUNDLED_KEY not in demo.split('<dl class="settings">')[1]  # the flag is not listed as a setting


def test_report_is_deterministic_and_bounded():
    many = [_record(i, i / 100, "authentic") for i in range(30)]
    calls = []

    def make_view(rank, record):
        calls.append(rank)
        return View(files={"image": f".deal/report/img{rank}.png.image.jpg"}, width=64, height=48)

    a = _render(many, max_rows=10, max_views=3, make_view=make_view)
    assert a == _render(many, max_rows=10, max_views=3, make_view=make_view)
    assert sorted(calls) == [0, 0, 1, 1, 2, 2]
    assert len(re.findall(r"<tr data-view=", a)) == 10
    assert "(the 10 highest scores are listed; results.csv has all)" in a
    assert len(re.findall(r'<figure class="panel"', a)) == 3
    assert a.count("No full-size view: only the 3 highest-scoring images have one") == 7
    assert "/in/img29.png" in a and "/in/img19.png" not in a  # the highest scores are kept


def test_overlay_is_legible_on_a_red_subject():
    """A red image with an edit: the overlay shows it in viridis over gray, plus a white/black contour."""
    image = np.zeros((80, 80, 3), np.uint8)
    image[..., 0] = 255
    heatmap = np.zeros((80, 80), np.float32)
    heatmap[20:60, 20:60] = 1.0
    mask = heatmap > 0.5
    out = overlay_rgb(image, heatmap, mask)
    gray = 0.299 * 255
    yellow = colormap_lut()[255].astype(float)
    want_inside = np.rint(gray * (1 - OVERLAY_ALPHA) + yellow * OVERLAY_ALPHA)
    np.testing.assert_array_equal(out[40, 40], want_inside)  # (209, 192, 47): not red
    np.testing.assert_array_equal(out[5, 5], [76, 76, 76])  # unedited: gray, not red
    assert out[40, 40, 1] > 150 and out[5, 5, 0] == out[5, 5, 1]
    # the contour: white on a black edge, around the edited square
    assert (out[20, 20:60] == 255).all(axis=1).mean() > 0.9
    assert (out[18, 25:55] == 0).all()
    # no red wash anywhere: no pixel is red-dominant
    assert not ((out[..., 0].astype(int) - out[..., 1]) > 60).any()
    np.testing.assert_array_equal(heatmap_rgb(heatmap)[40, 40], colormap_lut()[255])
    c = contour_rgb(image, mask)
    assert (c[40, 40] == image[40, 40]).all() and (c[20, 40] == 255).all()


# --- a real run, opened in Chromium ------------------------------------------------------------------
@pytest.fixture(scope="module")
def cocoglide_run(tmp_path_factory, shared_data):
    """`deal detect` with the bundled detector on three CoCoGlide inpaintings, --report html."""
    fakes = sorted((shared_data / "fixtures" / "CocoGlide" / "fake").glob("*.png"))[:N_COCOGLIDE]
    assert len(fakes) == N_COCOGLIDE
    out = tmp_path_factory.mktemp("cocoglide") / "out"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main(
            ["detect", *map(str, fakes), "--out", str(out), "--device", "cpu", "--report", "html", "--quiet"]
        )
    assert rc == 0, err.getvalue()
    return out


def test_report_links_only_files_of_the_output_tree(cocoglide_run):
    out = cocoglide_run
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "://" not in html.replace("data:image/jpeg;base64,", "")
    refs = re.findall(r'(?:src|data-src|href)="([^"]+)"', html)
    files = [r for r in refs if not r.startswith("data:")]
    assert len(files) >= 4 * N_COCOGLIDE
    for ref in files:
        target = (out / ref).resolve()
        assert target.is_file() and out.resolve() in target.parents, ref
    assert "demonstration detector" in html  # the bundled detector is flagged
    records = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    n_edited = sum(r["verdict"] == "edited" for r in records)
    n_authentic = sum(r["verdict"] == "authentic" for r in records)
    n_inconclusive = sum(r["verdict"] == "inconclusive" for r in records)
    assert (
        f"{N_COCOGLIDE} images: {n_edited} edited, {n_inconclusive} inconclusive, {n_authentic} authentic, 0 failed"
        in html
    )
    # the view panels are the image and its maps at full size
    first = sorted(records, key=lambda r: -r["score"])[0]
    stem = first["outputs"]["heatmap"][: -len(".heatmap.png")]
    panel = np.asarray(Image.open(out / ".deal" / "report" / f"{stem}.image.jpg"))
    assert panel.shape == (first["height"], first["width"], 3)


# The view's images once they have loaded: alt, natural size and viewport rectangle.
_VIEW_STATE = """
Promise.all([...document.querySelectorAll('.view:not([hidden]) img')].map(i => i.decode())).then(() => {
  const open = [...document.querySelectorAll('.view:not([hidden])')];
  const detail = document.querySelector('tr.detail');
  return {
    open: open.map(v => v.id),
    afterFirstRow: !!detail && detail.previousElementSibling === document.querySelector('#results tbody tr'),
    images: open.length ? [...open[0].querySelectorAll('img')].map(i => {
      const r = i.getBoundingClientRect();
      return {alt: i.alt, w: i.naturalWidth, h: i.naturalHeight, x: r.x, y: r.y, width: r.width, height: r.height};
    }) : [],
  };
})
"""


def open_first_view(report: Path, width: int = 1400, height: int = 1100) -> tuple[dict, np.ndarray]:
    """Opens the report in headless Chromium, clicks the first row, waits for the view's images.

    Returns (the view's state, the viewport's screenshot as HxWx3 uint8).
    """
    with Browser(width, height) as browser:
        browser.open(report.resolve().as_uri())
        row = browser.evaluate(
            "(() => { const r = document.querySelector('#results tbody tr').getBoundingClientRect();"
            " return {x: r.x + r.width / 2, y: r.y + r.height / 2}; })()"
        )
        browser.click(row["x"], row["y"])
        state = browser.evaluate(_VIEW_STATE)
        shot = np.asarray(Image.open(io.BytesIO(browser.screenshot())).convert("RGB"))
    return state, shot


def test_a_click_opens_a_view_with_four_nonblank_images(cocoglide_run, tmp_path):
    if not chromium_available():
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it)")
    state, shot = open_first_view(cocoglide_run / "report.html")
    Image.fromarray(shot).save(tmp_path / "report.png")
    print(f"screenshot: {tmp_path / 'report.png'}")
    assert state["open"] == ["view-0"] and state["afterFirstRow"]
    images = {i["alt"]: i for i in state["images"]}
    assert list(images) == ["image", "heatmap", "contour", "overlay"]
    crops = {}
    for alt, i in images.items():
        assert (i["w"], i["h"]) == (256, 256) and (i["width"], i["height"]) == (256, 256), i  # full size
        x, y = round(i["x"]), round(i["y"])
        assert 0 <= x and x + 256 <= shot.shape[1] and 0 <= y and y + 256 <= shot.shape[0], i
        crops[alt] = shot[y : y + 256, x : x + 256].astype(float)
    for alt, crop in crops.items():
        assert crop.std() > 15, alt  # a picture, not a blank or flat panel
    # the heatmap panel is in viridis: (nearly) every pixel is a colour of the colormap, up to JPEG noise
    pixels = crops["heatmap"][::4, ::4].reshape(-1, 1, 3)
    distance = np.abs(pixels - colormap_lut()[None].astype(float)).max(axis=2).min(axis=1)
    assert (distance < 20).mean() > 0.95
    # side by side, left to right, on one line
    xs = [images[a]["x"] for a in ("image", "heatmap", "contour", "overlay")]
    assert xs == sorted(xs) and len({images[a]["y"] for a in images}) == 1
    # the contour panel is the image with a line drawn on it: mostly equal, not everywhere
    same = (np.abs(crops["contour"] - crops["image"]).max(axis=2) < 24).mean()
    assert 0.5 < same < 0.995


def _view_fixture(tmp_path: Path, h: int, w: int, save_heatmap: bool = True) -> tuple[Path, dict]:
    """An input image, its saved maps and its record, as a run would leave them."""
    from deal.fileio import sha256_file
    from deal.report.outputs import heatmap_png, mask_png

    src = tmp_path / "in" / "photo.png"
    src.parent.mkdir(parents=True)
    Image.fromarray(smooth_image(h, w, 0)).save(src)
    out = tmp_path / "out"
    out.mkdir()
    heatmap = np.zeros((h, w), np.float32)
    heatmap[h // 4 : h // 2, w // 4 : w // 2] = 0.9
    outputs = {"mask": "photo.png.mask.png"}
    (out / outputs["mask"]).write_bytes(mask_png(heatmap > 0.5))
    if save_heatmap:
        outputs["heatmap"] = "photo.png.heatmap.png"
        (out / outputs["heatmap"]).write_bytes(heatmap_png(heatmap))
    record = {"path": str(src), "sha256": sha256_file(src), "width": w, "height": h, "threshold": 0.5}
    return out, {**record, "outputs": outputs}


def test_view_panels_are_the_image_and_its_maps_and_say_what_is_missing(tmp_path):
    from deal.report.views import VIEW_DIR, make_view, output_stem, remove_stale_views

    out, record = _view_fixture(tmp_path, 40, 60)
    assert output_stem(record) == "photo.png"
    view = make_view(out, record, "photo.png")
    assert list(view.files) == ["image", "heatmap", "contour", "overlay"] and view.notes == []
    assert (view.width, view.height) == (60, 40)
    image = np.asarray(Image.open(out / view.files["image"])).astype(float)
    source = np.asarray(Image.open(record["path"])).astype(float)
    assert np.abs(image - source).mean() < 8 < np.abs(image - source[::-1]).mean()  # the input, JPEG q90
    heat = np.asarray(Image.open(out / view.files["heatmap"])).astype(float)
    assert np.abs(heat[15, 20] - colormap_lut()[round(0.9 * 255)]).max() < 12
    assert np.abs(heat[35, 50] - colormap_lut()[0]).max() < 12
    # no heatmap saved: the image alone, and why
    out2, record2 = _view_fixture(tmp_path / "b", 40, 60, save_heatmap=False)
    view2 = make_view(out2, record2, "photo.png")
    assert list(view2.files) == ["image"] and "No heatmap was saved" in view2.notes[0]
    # the input changed since the run: its maps are not drawn over it
    Image.fromarray(np.zeros((40, 60, 3), np.uint8)).save(record["path"])
    view3 = make_view(out, record, "photo.png")
    assert list(view3.files) == ["image"] and "changed" in view3.notes[0]
    # the input is gone: no panels, one sentence naming it
    Path(record["path"]).unlink()
    view4 = make_view(out, record, "photo.png")
    assert view4.files == {} and record["path"] in view4.notes[0]
    # panels of rows no longer listed are removed
    (out / VIEW_DIR / "old.png.image.jpg").write_bytes(b"x")
    assert remove_stale_views(out, set(view.files.values())) == 1
    assert sorted(p.name for p in (out / VIEW_DIR).iterdir()) == sorted(
        Path(f).name for f in view.files.values()
    )


def test_large_images_are_viewed_downscaled_with_a_note(tmp_path, monkeypatch):
    from deal.report import views as report_views

    monkeypatch.setattr(report_views, "VIEW_SIDE", 32)
    out, record = _view_fixture(tmp_path, 40, 64)
    view = report_views.make_view(out, record, "photo.png")
    assert (view.width, view.height) == (32, 20) and "Shown at 32x20 (the image is 64x40)" in view.notes[0]
    assert Image.open(out / view.files["overlay"]).size == (32, 20)


def test_a_view_that_cannot_be_made_is_a_note_not_a_crash(tmp_path):
    from deal.report.html import write_report

    out, record = _view_fixture(tmp_path, 40, 60)
    (out / record["outputs"]["heatmap"]).unlink()
    record["outputs"]["npz"] = "photo.png.npz"
    (out / "photo.png.npz").write_bytes(b"not a zip")
    record.update(score=0.5, verdict="inconclusive", error=None)
    write_report(out / "report.html", [(0, record, None)], settings=SETTINGS)
    html = (out / "report.html").read_text()
    assert "The view could not be made: " in html and "1 inconclusive" in html


def test_the_scale_bars_are_the_colormap_of_the_images():
    from deal.report.html import static_text

    gradient = re.search(r"linear-gradient\(to right,([^)]*)\)", static_text("static/report.css")).group(1)
    stops = [tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in gradient.split(",")]
    want = [tuple(int(v) for v in colormap_lut()[round(k * 255 / 8)]) for k in range(9)]
    assert stops == want


@pytest.fixture(scope="module")
def provenance_run(tmp_path_factory, detector_file):
    """`deal detect --report html --trust-anchors` over an image signed by a trusted chain, one signed by
    another chain, one whose pixels changed after signing, and a PNG with a Stable Diffusion text chunk."""
    pytest.importorskip("c2pa", reason="c2pa-python is not installed")
    from PIL.PngImagePlugin import PngInfo

    from tests.provenance.builders import change_pixels, encode, make_chain, sign

    root = tmp_path_factory.mktemp("provenance")
    src = root / "in"
    src.mkdir()
    trusted, other = make_chain(), make_chain("someone else")
    (src / "trusted.jpg").write_bytes(sign(encode(smooth_image(96, 128, 1), quality=90), trusted))
    (src / "untrusted.jpg").write_bytes(sign(encode(smooth_image(96, 128, 2), quality=90), other))
    (src / "changed.jpg").write_bytes(change_pixels(sign(encode(smooth_image(96, 128, 3), quality=90), trusted)))
    info = PngInfo()
    info.add_text("parameters", "a castle\nSteps: 20, Sampler: Euler a, Seed: 1")
    Image.fromarray(smooth_image(96, 128, 4)).save(src / "generated.png", pnginfo=info)
    anchors = root / "anchors.pem"
    anchors.write_bytes(trusted.root_pem)
    out = root / "out"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main(
            ["detect", str(src), "--out", str(out), "--detector", str(detector_file), "--device", "cpu",
             "--report", "html", "--quiet", "--trust-anchors", str(anchors), "--case", "C-17",
             "--examiner", "A. Analyst", "--note", "seized laptop"]
        )  # fmt: skip
    assert rc == 0, err.getvalue()
    return out


_BADGES = """
[...document.querySelectorAll('#results tbody tr')].map(tr => {
  const b = tr.querySelector('td.provcell .prov'), r = b.getBoundingClientRect(), s = getComputedStyle(b);
  return {file: tr.cells[1].dataset.v.split('/').pop(), cls: b.className, text: b.textContent,
          flags: [...tr.querySelectorAll('td.provcell .flag')].map(f => f.textContent),
          bg: s.backgroundColor, x: r.x, y: r.y, w: r.width, h: r.height};
})
"""
_PANEL = """
(() => {
  const v = document.querySelector('.view:not([hidden])'), p = v.querySelector('section.provenance');
  const card = p.querySelector('aside.howto'), r = p.getBoundingClientRect(), c = card.getBoundingClientRect();
  return {view: v.id, text: p.innerText, card: [...card.querySelectorAll('li')].map(li => li.textContent),
          h: r.height, cardW: c.width, cardH: c.height};
})()
"""


def test_the_provenance_column_badges_and_the_panel_with_its_card(provenance_run):
    from deal.provenance.fields import HOW_TO_READ

    html = (provenance_run / "report.html").read_text(encoding="utf-8")
    assert '<th data-type="text">provenance</th>' in html
    assert "<dt>case</dt><dd>C-17</dd>" in html and "<dt>examiner</dt><dd>A. Analyst</dd>" in html
    if not chromium_available():
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it)")
    with Browser(1400, 1000) as browser:
        browser.open((provenance_run / "report.html").resolve().as_uri())
        badges = {b["file"]: b for b in browser.evaluate(_BADGES)}
        shot = np.asarray(Image.open(io.BytesIO(browser.screenshot())).convert("RGB")).astype(int)
        row = next(b for b in badges.values() if b["file"] == "changed.jpg")
        browser.click(row["x"] - 300, row["y"] + row["h"] / 2)  # on the row, left of the badge
        panel = browser.evaluate(_PANEL)
        browser.call("Emulation.setEmulatedMedia", media="print")
        printed = browser.evaluate(
            "({th: getComputedStyle(document.querySelector('th')).position,"
            " button: getComputedStyle(document.querySelector('.view:not([hidden]) button')).display})"
        )
        pdf = base64.b64decode(browser.call("Page.printToPDF")["data"])
    assert {f: (b["cls"], b["text"]) for f, b in badges.items()} == {
        "trusted.jpg": ("prov prov-trusted", "C2PA valid"),
        "untrusted.jpg": ("prov prov-untrusted", "C2PA valid, signer not trusted"),
        "changed.jpg": ("prov prov-invalid", "C2PA invalid"),
        "generated.png": ("prov prov-absent", "no C2PA"),
    }
    assert badges["generated.png"]["flags"] == ["generator trace", "degraded"]  # 128x96: very small
    # The badges are painted in their colours: green for trusted, red for invalid (in the screenshot too).
    assert badges["trusted.jpg"]["bg"] == "rgb(27, 94, 32)" and badges["changed.jpg"]["bg"] == "rgb(183, 28, 28)"
    for name, colour in (("trusted.jpg", (27, 94, 32)), ("changed.jpg", (183, 28, 28))):
        b = badges[name]
        crop = shot[round(b["y"]) + 2 : round(b["y"] + b["h"]) - 2, round(b["x"]) + 4 : round(b["x"] + b["w"]) - 4]
        share = (np.abs(crop - np.array(colour)).max(axis=2) < 30).mean()
        assert share > 0.4, (name, share)
    assert panel["h"] > 100 and panel["cardW"] > 200 and panel["cardH"] > 100
    assert "C2PA invalid" in panel["text"] and "assertion.dataHash.mismatch" in panel["text"]
    assert "signed by\ndeal test signer (issued by deal tests)" in panel["text"]
    assert panel["card"] == list(HOW_TO_READ)
    assert printed == {"th": "static", "button": "none"}
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000


def test_the_provenance_cell_and_panel_come_from_the_record_escaped():
    """The template's provenance pieces without a browser: the badge by state, the flags, the panel's rows in
    the record's words (escaped), the card; a record without provenance says so."""
    from deal.provenance.fields import HOW_TO_READ

    signed = {
        "c2pa": {"state": "invalid", "reason": "assertion.dataHash.mismatch", "signer": "Cam <A&B>"},
        "metadata": {"format": "JPEG", "make": "Canon", "model": "EOS R5", "gps": False, "exif": True},
        "generator_traces": [],
        "jpeg": {"quality": 87, "quality_exact": True, "subsampling": "4:2:0",
                 "double_compression": {"indicated": True, "score": 0.41}},
        "degradation": {"notes": ["recompressed at low quality"]},
    }  # fmt: skip
    html = _render([_record(0, 0.95, "edited", provenance=signed), _record(1, 0.1, "authentic", provenance=None)])
    cells = re.findall(r'<td class="provcell" data-v="([a-z]*)">(.*?)</td>', html)
    assert cells == [
        ("invalid", '<span class="prov prov-invalid">C2PA invalid</span><span class="flag">double JPEG</span>'
         '<span class="flag">degraded</span>'),
        ("", "&ndash;"),
    ]  # fmt: skip
    panels = re.findall(r'<section class="provenance">(.*?)</section>', html)
    assert len(panels) == 2 and "<p>Not read for this file.</p>" in panels[1]
    rows = dict(re.findall(r"<dt>(.*?)</dt><dd[^>]*>(.*?)</dd>", panels[0]))
    assert rows["why"] == "assertion.dataHash.mismatch" and rows["signed by"] == "Cam &lt;A&amp;B&gt;"
    assert rows["camera (EXIF)"] == "Canon EOS R5" and rows["GPS"] == "none"
    assert rows["JPEG quality"] == "87 (exact), 4:2:0"
    assert rows["double JPEG"] == "indicated, score 0.41 (heuristic)"
    assert rows["generator traces"] == "none found"
    assert '<dd class="degraded">recompressed at low quality</dd>' in panels[0]
    card = re.findall(r"<li>(.*?)</li>", panels[0])
    assert [unescape(line) for line in card] == list(HOW_TO_READ)


def test_legend_says_which_verdict_the_detector_can_never_give():
    """One sentence (deal.metrics.image_score.verdict_limitation, also printed by deal detect and deal export):
    from the run's settings when given, else from the records' thresholds."""
    from deal.metrics.image_score import verdict_limitation
    from deal.report.html import LIMITATION_KEY

    def legend(html: str) -> str:
        return unescape(re.search(r'<dl class="legend" id="legend">(.*?)</dl>', html, re.S).group(1))

    assert "can never say" not in legend(_render())  # low 0.4, high 0.9: all three verdicts possible
    never = [_record(i, 0.5, "inconclusive", image_threshold_low=0.0) for i in range(2)]
    expected = verdict_limitation(0.0, 0.9)
    assert expected.startswith("This detector can never say authentic") and expected in legend(_render(never))
    sentence = verdict_limitation(0.0, 0.9, 0.9, True)
    html = _render(never, settings={**SETTINGS, LIMITATION_KEY: sentence})
    assert sentence in legend(html) and "stated precision of 0.9" in legend(html)
