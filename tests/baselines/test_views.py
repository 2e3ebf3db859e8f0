"""The classic forensic views (deal.baselines.views), each on a constructed case it must find and on
authentic photos (Kodak, never JPEG-compressed) where it must flag little. The constructions are made
here from the photos; the bounds leave room under the values measured when they were written (in the
comments)."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from deal.baselines import BASELINES, get_baseline
from deal.baselines.views import VIEWS, check_view_names, run_view, run_views
from deal.baselines.views.jpeg_grid import NOT_APPLICABLE
from deal.metrics import functional as MF
from tests.conftest import require_shared


def _kodak(name: str) -> np.ndarray:
    return np.array(Image.open(require_shared("natural", "Kodak", "all", name)).convert("RGB"))


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=quality)
    return np.array(Image.open(buf).convert("RGB"))


def _box(shape: tuple[int, ...], top: int, left: int, height: int, width: int) -> np.ndarray:
    mask = np.zeros(shape[:2], bool)
    mask[top : top + height, left : left + width] = True
    return mask


def _auc(probs: np.ndarray, mask: np.ndarray) -> float:
    return float(MF.pixel_auc(torch.from_numpy(probs), torch.from_numpy(mask.astype(np.uint8))))


def _flagged(probs: np.ndarray, level: float = 0.5) -> float:
    return float((probs > level).mean())


def test_ela_finds_a_region_saved_at_another_quality():
    photo = _kodak("kodim06.png")
    mask = _box(photo.shape, 128, 256, 128, 160)
    image = _jpeg(photo, 90)  # the image: a JPEG at quality 90, the ELA's re-save quality
    image[mask] = _jpeg(photo, 98)[mask]  # the region: saved at 98
    view = run_view("ela", image)
    assert view.map.shape == mask.shape and view.map.dtype == np.float32 and view.note is None
    assert _auc(view.map, mask) > 0.97  # measured 1.000
    assert view.map[mask].mean() > 0.9 and view.map[~mask].mean() < 0.2  # measured 0.993 and 0.111


def test_noise_finds_a_region_with_added_noise():
    photo = _kodak("kodim02.png")
    mask = _box(photo.shape, 128, 256, 128, 160)
    noisy = photo.astype(np.float32)
    noisy[mask] += np.random.default_rng(0).normal(0, 10, (int(mask.sum()), 3))
    view = run_view("noise", np.clip(noisy, 0, 255).astype(np.uint8))
    assert _auc(view.map, mask) > 0.97  # measured 0.995
    assert view.map[mask].mean() > 0.25 and _flagged(view.map[~mask]) < 0.01  # measured 0.315 and 0.000


def test_jpeg_view_finds_a_region_pasted_from_a_misaligned_grid():
    photo, donor = _kodak("kodim09.png")[:384, :512], _kodak("kodim08.png")
    mask = _box(photo.shape, 96, 160, 128, 160)
    image = _jpeg(photo, 75)  # grid at the image's origin
    shifted = _jpeg(donor, 75)[3 : 3 + 384, 5 : 5 + 512]  # a JPEG's pixels read 3 rows and 5 columns off its grid
    image[mask] = shifted[mask]
    view = run_view("jpeg", image)
    assert _auc(view.map, mask) > 0.8  # measured 0.864
    assert view.map[mask].mean() > 2 * view.map[~mask].mean()  # measured 0.202 and 0.084


def test_jpeg_view_is_not_applicable_without_a_grid_and_flags_little_on_an_authentic_jpeg():
    photo = _kodak("kodim09.png")
    view = run_view("jpeg", photo)  # a PNG never compressed
    assert view.map is None and view.score is None and view.note.startswith(NOT_APPLICABLE) and not view.failed
    assert get_baseline("jpeg")(photo)[1] == 0.0 and not get_baseline("jpeg")(photo)[0].any()
    for name in ("kodim01.png", "kodim03.png", "kodim09.png"):
        view = run_view("jpeg", _jpeg(_kodak(name), 75))
        assert view.map is not None and _flagged(view.map) < 0.06  # measured 4.4%, 2.8%, 0.0%


@pytest.mark.parametrize(("mirrored", "measured"), [(False, 0.79), (True, 0.79)])
def test_copymove_marks_source_and_target_with_iou_at_least_one_half(mirrored, measured):
    photo = _kodak("kodim03.png")
    image = photo.copy()
    source, target = _box(photo.shape, 40, 60, 112, 128), _box(photo.shape, 352, 568, 112, 128)
    patch = photo[40:152, 60:188]
    image[352:464, 568:696] = patch[:, ::-1] if mirrored else patch  # a mirrored copy matches the mirror's keypoints
    view = run_view("copymove", image)
    assert view.score == 1.0 and view.note == "1 copied region pair(s) found"
    _, labels = cv2.connectedComponents((view.map > 0.5).astype(np.uint8))
    for region in (source, target):
        found = np.isin(labels, np.unique(labels[region & (labels > 0)]))
        iou = (found & region).sum() / (found | region).sum()
        assert iou >= 0.5 and iou == pytest.approx(measured, abs=0.05), iou  # the same for both regions


def test_spectral_view_finds_an_upsampled_paste_and_is_the_spectral_slope_baseline():
    photo = _kodak("kodim06.png")
    h, w = photo.shape[:2]
    mask = _box(photo.shape, 128, 256, 128, 160)
    upsampled = cv2.resize(cv2.resize(photo, (w // 2, h // 2), interpolation=cv2.INTER_AREA), (w, h))
    image = photo.copy()
    image[mask] = upsampled[mask]
    view = run_view("spectral", image)
    assert _auc(view.map, mask) > 0.9 and view.map[mask].mean() > 0.75  # measured 0.949 and 0.861
    baseline_map, _ = get_baseline("spectral-slope")(image)
    assert np.array_equal(baseline_map, view.map)


@pytest.mark.parametrize(
    ("name", "level", "bound"),
    [("ela", 0.5, 0.05), ("noise", 0.5, 0.05), ("spectral", 0.9, 0.06), ("copymove", 0.5, 0.0)],
)
def test_each_view_flags_little_on_authentic_photos(name, level, bound):
    # the spectral map puts the image's median at 0.5 by definition: "little" is then the share above 0.9
    # measured (kodim01, kodim04, kodim05): ela 0.1%, 0%, 0.3%; noise 2.3%, 0%, 1.5%; spectral 0.0%, 4.8%, 0.1%
    for photo in ("kodim01.png", "kodim04.png", "kodim05.png"):
        view = run_view(name, _kodak(photo))
        assert _flagged(view.map, level) <= bound, (photo, _flagged(view.map, level))


def test_registry_runner_and_a_failing_view():
    assert list(VIEWS) == ["ela", "noise", "jpeg", "spectral", "copymove"]
    assert {v.baseline for v in VIEWS.values()} <= set(BASELINES)
    assert check_view_names(["ela", " noise", "ela", ""]) == ["ela", "noise"]
    with pytest.raises(ValueError, match="unknown view 'x'; choose from ela, noise, jpeg, spectral, copymove"):
        check_view_names(["x"])
    tiny = np.zeros((1, 1, 3), np.uint8)  # each view either maps it or says why not: no exception escapes
    results = run_views(list(VIEWS), tiny)
    for view in results.values():
        assert (view.map is not None and view.map.shape == (1, 1)) or view.note


def test_a_view_that_raises_is_a_note(monkeypatch):
    def broken(image):
        raise MemoryError("out of memory")

    from deal.baselines import views as views_module

    monkeypatch.setitem(views_module.VIEWS, "ela", views_module.View("ela", "ela", "ELA", "x", broken))
    view = run_view("ela", np.zeros((8, 8, 3), np.uint8))
    assert view.failed and view.map is None and view.note == "the ela view failed: MemoryError: out of memory"


def test_centre_floor_is_image_independent():
    a, _ = get_baseline("centre")(np.zeros((40, 60, 3), np.uint8))
    b, _ = get_baseline("centre")(np.full((40, 60, 3), 255, np.uint8))
    assert a.shape == (40, 60) and np.array_equal(a, b)
    assert a[20, 30] > 0.99 and a[0, 0] < 0.03 and "centre" not in VIEWS


def test_tiles_give_the_whole_image_result_and_every_view_maps_a_large_image(monkeypatch):
    """Bounded memory: the tiled views compute tiles (1024 pixels; 256 here, to stay fast) with a margin; the
    evidence equals the untiled computation's (ELA's re-save keeps its 8x8 blocks and 4:2:0 MCUs: tiles start
    on multiples of 16)."""
    from deal.baselines.views import common
    from deal.baselines.views.ela import ela_error
    from deal.baselines.views.noise import noise_level
    from tests.inference.conftest import smooth_image

    monkeypatch.setattr(common, "TILE", 256)
    image = smooth_image(256 + 150, 2 * 256 + 70, 3)
    for function, margin in ((ela_error, 16), (noise_level, 32)):
        assert np.abs(common.tiled(function, image, margin) - function(image)).max() < 1e-4, function.__name__
    for name in VIEWS:
        view = run_view(name, image)
        assert not view.failed and (view.map is None or view.map.shape == image.shape[:2]), (name, view.note)
