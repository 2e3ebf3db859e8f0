"""A heatmap with NaN or inf is never a verdict: the API raises NonFiniteMapError naming the image, a folder
run writes an error record for that image and goes on, and the verdict rule refuses a NaN score."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from deal.inference.detection import Detection, NonFiniteMapError
from deal.inference.detector import Detector
from deal.inference.streaming import stream_outcomes, windows_of
from deal.metrics.image_score import verdict
from tests.inference.conftest import smooth_image

FLAT = 77  # the grey level of the image this detector fails on


class FailsOnFlatImages(Detector):
    """The test detector, except that its logits are NaN for a flat input (a broken model on one image)."""

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        logits = super().forward(batch).clone()
        flat = batch.flatten(2).std(dim=2).amax(dim=1) < 1e-6  # every channel constant
        logits[flat] = float("nan")
        return logits


@pytest.fixture(scope="module")
def failing(detector) -> FailsOnFlatImages:
    return FailsOnFlatImages(detector.model, detector.info, "cpu")


def flat_image() -> np.ndarray:
    return np.full((96, 96, 3), FLAT, np.uint8)


def test_predict_raises_naming_the_input_instead_of_saying_authentic(failing, tmp_path):
    path = tmp_path / "flat.png"
    Image.fromarray(flat_image()).save(path)
    with pytest.raises(NonFiniteMapError, match=r"flat\.png: the detector produced non-finite values"):
        failing.predict(path)
    with pytest.raises(NonFiniteMapError, match=r"array 96x96: .*no score and no verdict"):
        failing.predict(flat_image())
    assert failing.predict(smooth_image(96, 96, 1)).verdict in ("edited", "inconclusive", "authentic")


@pytest.mark.parametrize("on_error", ["raise", "skip"])
def test_predict_many_never_drops_an_image_with_a_non_finite_map(failing, on_error):
    items = [smooth_image(96, 96, 1), flat_image(), smooth_image(96, 96, 2)]
    results = []
    with pytest.raises(NonFiniteMapError, match="array 96x96: the detector produced non-finite"):
        for d in failing.predict_many(items, batch_size=3, on_error=on_error):
            results.append(d)
    assert len(results) == 1  # the first image, then the error: nothing skipped silently


def test_the_other_maps_of_a_window_stand_and_match_a_finite_run(failing, detector):
    items = [smooth_image(96, 96, 1), flat_image(), smooth_image(80, 112, 2)]
    outcomes = list(stream_outcomes(failing, windows_of(items, 3), batch_size=3))
    assert [o.detection is None for o in outcomes] == [False, True, False]
    bad = outcomes[1]
    assert bad.non_finite and bad.error == (
        "array 96x96: the detector produced non-finite values (NaN or inf) in the heatmap, so there is no "
        "score and no verdict"
    )
    good = list(stream_outcomes(detector, windows_of(items, 3), batch_size=3))
    for i in (0, 2):
        np.testing.assert_allclose(outcomes[i].detection.heatmap, good[i].detection.heatmap, rtol=0, atol=1e-6)


def test_a_folder_run_records_the_error_and_goes_on(failing, tmp_path):
    from deal.runs.folder import run_detection

    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(smooth_image(96, 96, 1)).save(src / "a.png")
    Image.fromarray(flat_image()).save(src / "b.png")
    run_detection([src], tmp_path / "out", failing, save="json", quiet=True)
    lines = (tmp_path / "out" / "results.jsonl").read_text().splitlines()
    records = {r["path"].rsplit("/", 1)[-1]: r for r in map(json.loads, lines)}
    assert records["a.png"]["error"] is None and records["a.png"]["verdict"] is not None
    assert records["b.png"]["verdict"] is None and records["b.png"]["score"] is None
    assert "b.png: the detector produced non-finite values (NaN or inf)" in records["b.png"]["error"]


def test_the_verdict_rule_refuses_a_score_that_is_not_finite():
    for score in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError, match="not a finite number: it has no verdict"):
            verdict(score, 0.3, 0.6)
    with pytest.raises(ValueError, match="no verdict"):
        _ = Detection.from_heatmap(np.full((4, 4), np.nan, np.float32), 0.5, image_thresholds=(0.3, 0.6)).verdict
    assert verdict(0.0, 0.3, 0.6) == "authentic"
