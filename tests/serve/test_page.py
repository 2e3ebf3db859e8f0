"""The page in headless Chromium: drop a file, wait for its verdict, open its view (the report's own)."""

from __future__ import annotations

import base64
import json
import time

import pytest

from deal.serve import ServeSettings, create_app
from tests.inference.chromium import Browser, chromium_available
from tests.serve.live import LiveServer, png_bytes


def wait_for(browser: Browser, expression: str, timeout: float = 90) -> object:
    """Evaluates `expression` until it is truthy (a bounded loop); returns its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = browser.evaluate(expression)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"never true: {expression}")


def test_drop_a_file_watch_the_verdict_and_open_its_view(detector, tmp_path):
    if not chromium_available():
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it)")
    settings = ServeSettings(data=tmp_path / "data", batch_size=2)
    data = base64.b64encode(png_bytes(96, 140, 7)).decode()
    drop = f"""(() => {{
        const bytes = Uint8Array.from(atob({json.dumps(data)}), c => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], 'dropped photo.png', {{type: 'image/png'}}));
        const zone = document.getElementById('drop');
        for (const type of ['dragenter', 'dragover', 'drop'])
            zone.dispatchEvent(new DragEvent(type, {{dataTransfer: dt, bubbles: true, cancelable: true}}));
        return true;
    }})()"""
    with LiveServer(create_app(settings, detector)) as live, Browser(1400, 1000) as browser:
        browser.open(live.url)
        assert "test-tiny" in wait_for(
            browser,
            "document.getElementById('banner').textContent.includes('sha256') && "
            "document.getElementById('banner').textContent",
        )
        browser.evaluate(drop)
        verdict = wait_for(browser, "(document.querySelector('.job table.results .v') || {}).textContent")
        job_id = browser.evaluate("document.querySelector('.job').dataset.job")
        records = (settings.data / "jobs" / job_id / "out" / "results.jsonl").read_text().splitlines()
        record = json.loads(records[0])
        assert verdict == record["verdict"]
        assert browser.evaluate("document.querySelector('.job table.results td.num').textContent") == (
            f"{record['score']:.3f}"
        )
        assert record["path"].endswith("dropped_photo.png")
        browser.evaluate("document.querySelector('.job button.open-view').click(), true")
        # The report's view of this image opens in the frame, and its four panels load (from the job's folder).
        panels = wait_for(
            browser,
            """(() => { const f = document.querySelector('iframe.report');
                 const d = f && f.contentDocument; if (!d) return null;
                 const v = d.querySelector('.view:not([hidden])'); if (!v) return null;
                 const imgs = [...v.querySelectorAll('figure.panel img')];
                 if (!imgs.length || !imgs.every(i => i.complete && i.naturalWidth > 0)) return null;
                 return {file: v.querySelector('.file').textContent,
                         panels: imgs.map(i => [i.alt, i.naturalWidth, i.naturalHeight])}; })()""",
        )
    assert record["path"].endswith("/inputs/dropped_photo.png")  # on disk: complete, for deal verify
    assert panels["file"] == "inputs/dropped_photo.png"  # served: relative to the job
    assert panels["panels"] == [[p, 140, 96] for p in ("image", "heatmap", "contour", "overlay")]


def test_the_page_runs_the_chosen_views_and_switches_their_layers(detector, tmp_path):
    """Views ticked on the page run with the job; the view in the frame switches between the model's layer and
    each view's (a real click on the layer's button), each with its reliability line."""
    if not chromium_available():
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it)")
    import io

    import numpy as np
    from PIL import Image

    from deal.baselines.views import VIEWS
    from deal.baselines.views.reliability import reliability_line

    settings = ServeSettings(data=tmp_path / "data", batch_size=2)
    data = base64.b64encode(png_bytes(96, 140, 7)).decode()
    drop = f"""(() => {{
        document.querySelectorAll('#views input').forEach(c => {{ c.checked = ['ela', 'noise'].includes(c.value); }});
        const bytes = Uint8Array.from(atob({json.dumps(data)}), c => c.charCodeAt(0));
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], 'photo.png', {{type: 'image/png'}}));
        document.getElementById('drop').dispatchEvent(new DragEvent('drop', {{dataTransfer: dt, bubbles: true, cancelable: true}}));
        return true;
    }})()"""
    layer_state = """(() => { const f = document.querySelector('iframe.report'); const d = f && f.contentDocument;
        const v = d && d.querySelector('.view:not([hidden])'); const img = v && v.querySelector('img.layer');
        if (!img || !img.complete || !img.naturalWidth || !img.getAttribute('src').includes(WANTED)) return null;
        img.scrollIntoView(); const r = img.getBoundingClientRect(), fr = f.getBoundingClientRect();
        return {x: fr.x + r.x, y: fr.y + r.y, src: img.getAttribute('src'),
                lines: [...v.querySelectorAll('.layer-option')].map(o => o.textContent)}; })()"""
    with LiveServer(create_app(settings, detector)) as live, Browser(1400, 1000) as browser:
        browser.open(live.url)
        assert sorted(browser.evaluate("[...document.querySelectorAll('#views input')].map(c => c.value)")) == sorted(VIEWS)
        wait_for(browser, "document.getElementById('banner').textContent.includes('sha256')")
        browser.evaluate(drop)
        wait_for(browser, "(document.querySelector('.job table.results .v') || {}).textContent")
        job_id = browser.evaluate("document.querySelector('.job').dataset.job")
        record = json.loads((settings.data / "jobs" / job_id / "out" / "results.jsonl").read_text().splitlines()[0])
        assert list(record["views"]) == ["ela", "noise"] and "view-ela" in record["outputs"]
        browser.evaluate("document.querySelector('.job button.open-view').click(), true")
        shots = {}
        for layer, wanted in (("model", "overlay"), ("ela", "layer-ela")):
            if layer != "model":
                box = browser.evaluate(
                    """(() => { const f = document.querySelector('iframe.report'), fr = f.getBoundingClientRect();
                         const r = f.contentDocument.querySelector('.view:not([hidden]) input[value="ela"]')
                         .getBoundingClientRect(); return {x: fr.x + r.x + r.width / 2, y: fr.y + r.y + r.height / 2}; })()"""
                )
                browser.click(box["x"], box["y"])
            state = wait_for(browser, layer_state.replace("WANTED", repr(wanted)))
            shot = np.asarray(Image.open(io.BytesIO(browser.screenshot())).convert("RGB")).astype(float)
            x, y = round(state["x"]), round(state["y"])
            shots[layer] = shot[y : y + 96, x : x + 140]
    assert len(state["lines"]) == 3 and reliability_line("ela") in state["lines"][1]
    assert shots["ela"].shape == (96, 140, 3) and shots["ela"].std() > 5
    assert np.abs(shots["ela"] - shots["model"]).mean() > 3  # another map over the same image
