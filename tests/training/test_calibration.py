"""Threshold calibration: the pixel threshold maximizing mean F1 over edited images, and the image-score
threshold maximizing balanced accuracy."""

from __future__ import annotations

import pytest
import torch

from deal.training.calibration import choose_image_threshold, choose_threshold, f1_per_threshold


def test_f1_per_threshold_by_hand():
    prob = torch.tensor([[0.9, 0.6], [0.3, 0.1]])
    target = torch.tensor([[1, 1], [0, 0]])
    f1 = f1_per_threshold(prob, target, torch.tensor([0.05, 0.5, 0.7, 0.95]))
    # > 0.05: all four flagged: tp 2, fp 2 -> 4/6; > 0.5: tp 2 -> 1; > 0.7: tp 1, fn 1 -> 2/3; > 0.95: 0.
    assert torch.allclose(f1, torch.tensor([4 / 6, 1.0, 2 / 3, 0.0]))


def test_choose_threshold_finds_the_separating_value_and_measures_false_alarms():
    edited = (torch.tensor([[0.3, 0.3], [0.1, 0.1]]), torch.tensor([[1, 1], [0, 0]]))
    authentic = (torch.tensor([[0.2, 0.05], [0.05, 0.05]]), torch.zeros(2, 2, dtype=torch.int64))
    out = choose_threshold([edited, authentic], grid=(0.05, 0.15, 0.25, 0.5))
    assert out["threshold"] == 0.15 and out["pixel_f1"] == 1.0 and out["pixel_f1_at_0.5"] == 0.0
    assert out["false_alarm_area"] == 0.25 and (out["n_edited"], out["n_authentic"]) == (1, 1)
    with pytest.raises(ValueError, match="at least one edited"):
        choose_threshold([authentic])


def test_choose_image_threshold():
    out = choose_image_threshold([0.9, 0.7, 0.4, 0.2], [1, 1, 0, 0], grid=(0.1, 0.3, 0.5, 0.8))
    assert out == {"image_threshold": 0.5, "image_bacc": 1.0}
    assert choose_image_threshold([0.9, 0.8], [1, 1]) is None  # no authentic image: nothing to calibrate
