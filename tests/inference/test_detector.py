"""Detector and Detection: numbers against a direct forward pass, tiling, resizing, streaming."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from deal.imageio import ImageLoadError
from deal.inference.detection import Detection, image_score
from deal.modeling.input_policy import prepare_batch, restore
from tests.inference.conftest import TILE, smooth_image


def direct_probs(detector, image: np.ndarray) -> np.ndarray:
    """The model's own forward pass + sigmoid, without deal.inference."""
    batch, placements = prepare_batch([image], policy="native", image_size=TILE)
    with torch.no_grad():
        logits = detector.model(batch)
    return torch.sigmoid(restore(logits, placements)[0]).numpy()


def test_predict_matches_a_direct_forward_pass(detector, tmp_path):
    img = smooth_image(100, 120, 0)  # not a multiple of 16: padded, then cropped back
    ref = direct_probs(detector, img)
    d = detector.predict(img)
    assert d.heatmap.dtype == np.float32 and d.heatmap.shape == (100, 120)
    assert 0.0 <= d.heatmap.min() and d.heatmap.max() <= 1.0
    np.testing.assert_allclose(d.heatmap, ref, rtol=0, atol=1e-5)
    # The same image from a PNG file and as a 3xHxW float tensor gives the same map.
    Image.fromarray(img).save(tmp_path / "x.png")
    np.testing.assert_allclose(detector.predict(tmp_path / "x.png").heatmap, ref, rtol=0, atol=1e-5)
    chw = torch.from_numpy(img).permute(2, 0, 1).float() / 255
    np.testing.assert_allclose(detector.predict(chw).heatmap, ref, rtol=0, atol=1e-5)
    # Detection fields follow from the heatmap by their documented rules.
    assert np.array_equal(d.mask, d.heatmap >= 0.5)
    assert d.edited_fraction == pytest.approx(d.mask.mean())
    top = np.sort(d.heatmap.ravel())[-120:]  # ceil(1% of 12,000 pixels)
    assert d.score == pytest.approx(float(top.mean()), abs=1e-7)
    assert d.verdict == ("edited" if d.score >= 0.5 else "authentic")
    assert (d.width, d.height) == (120, 100)


def test_threshold_override_and_regions(detector):
    img = smooth_image(64, 96, 1)
    base = detector.predict(img)
    thr = float(np.quantile(base.heatmap, 0.9))  # about 10% of the pixels above
    d = detector.predict(img, threshold=thr)
    assert d.threshold == thr and np.array_equal(d.mask, base.heatmap >= thr)
    from skimage.measure import label

    labels = label(d.mask, connectivity=2)
    assert d.n_regions == labels.max()
    areas = sorted(np.bincount(labels.ravel())[1:].tolist(), reverse=True)
    assert [r["area"] for r in d.regions] == areas[: len(d.regions)]
    assert len(d.regions) == min(50, d.n_regions)
    r = d.regions[0]
    x, y, w, h = r["bbox"]
    assert d.mask[y : y + h, x : x + w].sum() >= r["area"] and thr <= r["mean_prob"] <= r["max_prob"] <= 1


def test_image_score_rule():
    heat = np.zeros((100, 100), dtype=np.float32)
    heat[0, 0] = 1.0  # one hot pixel barely moves the score (unlike the max)
    assert image_score(heat) == pytest.approx(0.01)
    heat[:10, :10] = 0.8  # a 1% edit drives it (unlike the mean)
    assert image_score(heat) == pytest.approx(0.8, abs=1e-6)
    assert image_score(np.full((3, 3), 0.3, dtype=np.float32)) == pytest.approx(0.3)  # < 100 px: the max


def test_large_image_is_tiled_and_blended(detector):
    img = smooth_image(200, 300, 2)  # larger than the 128 px tile: 2 x 3 windows
    assert detector.inference_mode_of(200, 300) == "tiled"
    d = detector.predict(img)
    assert d.heatmap.shape == (200, 300) and 0 <= d.heatmap.min() and d.heatmap.max() <= 1
    # A pixel covered by the first window only equals that window's own prediction.
    first = direct_probs(detector, img[:128, :128])
    assert d.heatmap[10, 10] == pytest.approx(float(first[10, 10]), abs=1e-5)
    assert d.heatmap[5, 60] == pytest.approx(float(first[5, 60]), abs=1e-5)


def test_no_tile_resizes_longest_side_and_back(detector_file):
    from deal.inference.detector import Detector

    det = Detector.load(detector_file, "cpu", tile=False)
    img = smooth_image(200, 300, 2)
    assert det.inference_mode_of(200, 300) == "resized"
    d = det.predict(img)
    assert d.heatmap.shape == (200, 300)
    # one resize both ways (F.interpolate): antialiased bilinear down to 85 x 128, bilinear back up
    batch, placements = prepare_batch([img], policy="native", image_size=TILE, placed=[(85, 128)])
    assert batch.shape[-2:] == (96, 128) and placements[0].placed_hw == (85, 128)
    with torch.no_grad():
        logit = restore(det.model(batch), placements)[0].numpy()
    assert logit.shape == (200, 300)
    expected = 1 / (1 + np.exp(-logit))
    np.testing.assert_allclose(d.heatmap, expected, rtol=0, atol=1e-5)


@pytest.mark.slow  # ~17 s
def test_predict_many_streams_in_order(detector, tmp_path):
    imgs = [
        smooth_image(64, 80, 3),
        smooth_image(200, 150, 4),
        smooth_image(64, 80, 5),
        smooth_image(48, 48, 6),
    ]
    paths = []
    for i, img in enumerate(imgs):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(img).save(paths[-1])
    results = list(detector.predict_many(paths, batch_size=2, workers=2))
    assert [r.source for r in results] == [str(p) for p in paths]
    for r, img in zip(results, imgs):
        np.testing.assert_allclose(r.heatmap, detector.predict(img).heatmap, rtol=0, atol=1e-5)
    bad = [paths[0], tmp_path / "missing.png", paths[3]]
    assert [r.source for r in detector.predict_many(bad, on_error="skip")] == [str(paths[0]), str(paths[3])]
    with pytest.raises(ImageLoadError, match="missing.png: no such file"):
        list(detector.predict_many(bad))


def test_load_bundled_detector(detector_file, monkeypatch, capsys):
    import deal.hub
    from deal import Detection as PublicDetection
    from deal import Detector
    from deal.inference import detector as detector_module

    assert PublicDetection is Detection
    monkeypatch.setattr(deal.hub, "bundled_detector_path", lambda: None)
    with pytest.raises(FileNotFoundError, match="no bundled detector is installed"):
        Detector.load()
    monkeypatch.setattr(deal.hub, "bundled_detector_path", lambda: detector_file)
    monkeypatch.setattr(detector_module, "_bundled_notice_shown", False)
    det = Detector.load(device="cpu")
    Detector.load(device="cpu")
    err = capsys.readouterr().err
    assert err.count("the bundled demonstration detector trained on synthetic edits") == 1
    assert str(detector_file) in err
    assert det.name == "test-tiny" and det.threshold == 0.5 and len(det.sha256) == 64
    assert det.config.image_size == TILE and det.device.type == "cpu"
    in_memory = Detector(det.model, None, "cpu")
    assert in_memory.sha256 is None and in_memory.name == "in-memory"


def test_sam_policy_resizes_and_restores():
    from deal.inference.detector import Detector
    from deal.modeling.config import ModelConfig
    from deal.modeling.mfpt import MFPT
    from deal.modeling.policies import get_policy

    torch.manual_seed(1)
    model = MFPT(ModelConfig(encoder="tiny", image_size=64, input_policy="sam", train_encoder=True))
    det = Detector(model, None, "cpu")
    imgs = [smooth_image(50, 90, 11), smooth_image(130, 40, 12)]  # any sizes share a batch
    policy = get_policy("sam", 64)
    padded = [policy.padded_hw(policy.placed_hw(h, w, policy.mode_of(h, w, tile=True))) for h, w in ((50, 90), (130, 40))]
    assert padded == [(64, 64), (64, 64)]
    for img, d in zip(imgs, det.predict_many(imgs, batch_size=2)):
        batch, placements = prepare_batch([img], policy="sam", image_size=64)
        with torch.no_grad():
            ref = torch.sigmoid(restore(model(batch), placements)[0]).numpy()
        assert d.heatmap.shape == img.shape[:2]
        np.testing.assert_allclose(d.heatmap, ref, rtol=0, atol=1e-5)


def test_verdict_has_three_outcomes_on_the_image_thresholds():
    import numpy as np

    from deal.inference.detection import Detection

    def at(score: float, thresholds=(0.4, 0.6)) -> Detection:
        return Detection.from_heatmap(np.full((10, 10), score, np.float32), 0.2, image_thresholds=thresholds)

    assert at(0.3).mask.all() and at(0.3).score == pytest.approx(0.3)
    assert [at(s).verdict for s in (0.39, 0.4, 0.59, 0.6, 0.9)] == [
        "authentic", "inconclusive", "inconclusive", "edited", "edited"
    ]
    assert Detection.from_heatmap(np.full((10, 10), 0.3, np.float32), 0.2).verdict == "edited"  # none: the pixel one
    with pytest.raises(ValueError, match="low <= high"):
        at(0.5, (0.7, 0.3))


def test_detector_thresholds_are_separate_knobs(detector):
    from deal.inference.detector import Detector
    from deal.modeling.detector_file import DetectorInfo

    tiny_model = detector.model

    info = DetectorInfo(name="x", config=tiny_model.config, threshold=0.13, image_thresholds=(0.3, 0.8))
    det = Detector(tiny_model, info, "cpu")
    assert (det.threshold, det.image_thresholds) == (0.13, (0.3, 0.8))
    det = Detector(tiny_model, info, "cpu", threshold=0.5)  # the pixel threshold does not move the verdict
    assert (det.threshold, det.image_thresholds) == (0.5, (0.3, 0.8))
    assert Detector(tiny_model, info, "cpu", image_thresholds=(0.1, 0.2)).image_thresholds == (0.1, 0.2)
    uncalibrated = DetectorInfo(name="y", config=tiny_model.config, threshold=0.13)
    assert Detector(tiny_model, uncalibrated, "cpu").image_thresholds == (0.13, 0.13)


def test_tiles_of_several_images_share_batches(detector):
    images = [smooth_image(200, 130, s) for s in range(4)]  # each 2 x 2 tiles of 128 px -> 16 jobs
    plan = detector.plan(images, batch_size=8)
    assert len(plan.pieces) == 16 and [len(b) for b in plan.batches] == [8, 8]
    assert {plan.pieces[j].image for j in plan.batches[0]} == {0, 1}  # one batch holds the tiles of two images
    calls = []
    handle = detector.model.register_forward_pre_hook(lambda m, args: calls.append(args[0].shape[0]))
    try:
        together = detector.heatmaps(images, batch_size=8)
        assert calls == [8, 8]
        alone = [detector.heatmaps([img], batch_size=8)[0] for img in images]
    finally:
        handle.remove()
    for a, b in zip(together, alone):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
