"""Threshold calibration: the pixel threshold maximizing mean F1 over edited images (in O(N) memory), and
the verdict's two image thresholds at a stated precision."""

from __future__ import annotations

import pytest
import torch

from deal.metrics import functional as MF
from deal.training.calibration import choose_image_thresholds, choose_threshold


def test_f1_at_thresholds_by_hand_and_against_pixel_f1():
    prob = torch.tensor([[0.9, 0.6], [0.3, 0.1]])
    target = torch.tensor([[1, 1], [0, 0]])
    f1 = MF.f1_at_thresholds(prob, target, torch.tensor([0.05, 0.5, 0.6, 0.7, 0.95]))
    # > 0.05: all four flagged: tp 2, fp 2 -> 4/6; > 0.5: 1; > 0.6 (strict): tp 1 -> 2/3; > 0.7: 2/3; > 0.95: 0.
    assert torch.allclose(f1, torch.tensor([4 / 6, 1.0, 2 / 3, 2 / 3, 0.0], dtype=torch.float64))
    g = torch.rand(64, 48, generator=torch.Generator().manual_seed(0))
    t = torch.rand(64, 48, generator=torch.Generator().manual_seed(1)) > 0.7
    grid = torch.linspace(0.0, 1.0, 41)
    expected = torch.stack([MF.pixel_f1(g, t, float(th)) for th in grid])
    torch.testing.assert_close(MF.f1_at_thresholds(g, t, grid), expected)


def test_choose_threshold_finds_the_separating_value_and_measures_false_alarms():
    edited = (torch.tensor([[0.3, 0.3], [0.1, 0.1]]), torch.tensor([[1, 1], [0, 0]]))
    authentic = (torch.tensor([[0.2, 0.05], [0.05, 0.05]]), torch.zeros(2, 2, dtype=torch.int64))
    out = choose_threshold([edited, authentic], grid=(0.05, 0.15, 0.25, 0.5))
    assert out["threshold"] == 0.15 and out["pixel_f1"] == 1.0 and out["pixel_f1_at_0.5"] == 0.0
    assert out["false_alarm_area"] == 0.25 and (out["n_edited"], out["n_authentic"]) == (1, 1)
    with pytest.raises(ValueError, match="at least one edited"):
        choose_threshold([authentic])


def test_separable_scores_give_one_threshold():
    out = choose_image_thresholds([0.9, 0.7, 0.4, 0.2], [1, 1, 0, 0], precision=0.9)
    assert out["image_thresholds"] == [0.7, 0.7] and out["image_bacc"] == 1.0 and out["inconclusive_fraction"] == 0.0
    assert choose_image_thresholds([0.9, 0.8], [1, 1]) is None  # no authentic image: nothing to calibrate


def test_overlapping_scores_give_an_inconclusive_band():
    scores = [0.95, 0.9, 0.8, 0.6, 0.5, 0.4, 0.3, 0.1]
    labels = [1, 1, 0, 1, 0, 1, 0, 0]
    out = choose_image_thresholds(scores, labels, precision=0.9)
    # score >= 0.9: two edited images (precision 1; at 0.8 it drops to 2/3); score < 0.4: two authentic
    # images (precision 1; below 0.5 it is 2/3).
    assert out["image_thresholds"] == [0.4, 0.9] and out["precision_reached"]
    assert out["inconclusive_fraction"] == 4 / 8  # 0.8, 0.6, 0.5, 0.4
    assert out["image_bacc"] == pytest.approx(0.5 * (2 / 4 + 2 / 4))


def test_a_detector_that_cannot_separate_says_inconclusive_for_everything():
    out = choose_image_thresholds([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 0], precision=0.9)
    assert out["image_thresholds"] == [0.0, 1.0] and not out["precision_reached"]
    assert out["inconclusive_fraction"] == 1.0


def test_thresholds_do_not_depend_on_the_class_mix():
    scores = [0.95, 0.9, 0.8, 0.6, 0.5, 0.4, 0.3, 0.1]
    labels = [1, 1, 0, 1, 0, 1, 0, 0]
    authentic = [s for s, y in zip(scores, labels) if y == 0]
    more_authentic = choose_image_thresholds(scores + authentic * 3, labels + [0] * 12, precision=0.9)
    assert more_authentic["image_thresholds"] == choose_image_thresholds(scores, labels)["image_thresholds"]
