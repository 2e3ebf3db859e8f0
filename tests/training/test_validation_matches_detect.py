"""One input pipeline: an image twice the model's image_size gets the same heatmap (within float32 noise,
tests.conftest.OUTPUT_ATOL) and the same pixel F1 through the Lightning module's validation step as through
`deal detect` (both tile it), and calibration scores the images as `deal detect` does."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from deal.cli.main import main
from deal.data.sample import Record
from deal.metrics.image_score import image_score
from deal.metrics.localization import LocalizationMetrics
from deal.modeling.config import ModelConfig
from deal.modeling.detector_file import save_detector
from deal.training.datamodule import LocalizationDataModule
from deal.training.module import MFPTModule
from tests.conftest import SCORE_RTOL, assert_outputs_close
from tests.inference.conftest import smooth_image

SIZE = 64  # the model's image_size; the images are twice that


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("val_vs_detect")
    torch.manual_seed(0)
    config = ModelConfig(encoder="tiny", image_size=SIZE, input_policy="native", train_encoder=True)
    module = MFPTModule(config=config, threshold=0.5).eval()
    detector_file = save_detector(root / "tiny.safetensors", module.model, name="tiny", threshold=0.5)
    records = []
    for i, (h, w) in enumerate([(2 * SIZE, 2 * SIZE), (2 * SIZE, 3 * SIZE // 2)]):
        image, mask = root / f"img{i}.png", root / f"img{i}.mask.png"
        Image.fromarray(smooth_image(h, w, i)).save(image)
        m = np.zeros((h, w), np.uint8)
        m[h // 4 : h // 2, w // 3 : w // 2 + 10] = 255
        Image.fromarray(m).save(mask)
        records.append(Record(str(image), str(mask), 1, f"img{i}"))
    out = root / "out"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main(
            ["detect", *(r.image for r in records), "--detector", str(detector_file), "--out", str(out),
             "--device", "cpu", "--save", "npz,json", "--quiet"]
        )
    assert rc == 0, err.getvalue()
    detected = [np.load(out / f"img{i}.png.npz")["map"] for i in range(len(records))]
    results = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    return module, detector_file, records, detected, results


def test_validation_tiles_as_detect_does_same_heatmap_and_pixel_f1(setup):
    module, _, records, detected, results = setup
    assert [r["inference"] for r in results] == ["tiled", "tiled"]
    # one validation batch = one detect window (the same images, so the same batches of tiles)
    dm = LocalizationDataModule(train=[], val_batch_size=len(records), num_workers=0, policy="native")
    dm.val_records = records
    (batch,) = list(dm.val_dataloader())
    seen = []
    update = module.val_metrics.update
    module.val_metrics.update = lambda probs, targets, labels, **kw: (seen.append(probs), update(probs, targets, labels, **kw))
    try:
        with torch.no_grad(), pytest.warns(UserWarning, match="self.log"):  # no Trainer attached here
            module.validation_step(batch, 0)
    finally:
        del module.val_metrics.update
    (validated,) = seen
    assert validated[0].shape == (2 * SIZE, 2 * SIZE)
    for v, d in zip(validated, detected):
        assert_outputs_close(v, d)
    val_f1 = module.val_metrics.compute()["pixel_f1"]
    module.val_metrics.reset()
    masks = [torch.from_numpy(np.asarray(Image.open(r.mask)) > 0) for r in records]
    reference = LocalizationMetrics(threshold=0.5)
    reference.update([torch.from_numpy(d) for d in detected], masks, torch.tensor([1, 1]))
    detect_f1 = reference.compute()["pixel_f1"]
    assert 0 < val_f1 < 1 and val_f1 == pytest.approx(detect_f1, rel=SCORE_RTOL)


def test_calibration_scores_equal_detect_scores(setup):
    from deal.inference.detector import Detector
    from deal.training.export import calibration_heatmaps

    module, detector_file, records, detected, results = setup
    detector = Detector.load(detector_file, "cpu")
    maps = [m for m, _ in calibration_heatmaps(detector, records)]
    for m, d, r in zip(maps, detected, results):
        assert_outputs_close(m, d)
        assert image_score(m) == pytest.approx(r["score"], abs=1e-6)  # the record rounds it to 6 decimals
