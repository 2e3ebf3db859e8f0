"""deal.metrics.functional against hand-computed values and scikit-learn / scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.ndimage import maximum_filter, minimum_filter
from sklearn.metrics import (
    balanced_accuracy_score,
    f1_score,
    jaccard_score,
    precision_recall_curve,
    roc_auc_score,
)

from deal.metrics import functional as MF

# A 2x4 example worked out by hand (see the comments of each test).
PROBS = torch.tensor([[0.9, 0.6, 0.4, 0.1], [0.8, 0.5, 0.2, 0.7]])
GT = torch.tensor([[1, 0, 1, 0], [1, 1, 0, 0]])


def test_hand_computed_threshold_metrics():
    # flagged (> 0.5): 0.9 0.6 0.8 0.7 (0.5 is not); positives 0.9 0.4 0.8 0.5 -> TP 2, FP 2, FN 2, TN 2
    assert MF.image_counts(PROBS, GT).tolist() == [2, 2, 2, 2]
    assert float(MF.pixel_f1(PROBS, GT)) == 0.5  # 4 / (4 + 2 + 2)
    assert float(MF.pixel_iou(PROBS, GT)) == pytest.approx(1 / 3)
    # at 0.45 the 0.5 positive is flagged too: TP 3, FP 2, FN 1 -> 6 / 9
    assert float(MF.pixel_f1(PROBS, GT, 0.45)) == pytest.approx(2 / 3)


def test_hand_computed_best_f1_and_auc():
    # sorted: .9P .8P .7N .6N .5P .4P .2N .1N, P = 4; F1 at ">= t" = 2TP / (k + P):
    # .9: 2/5  .8: 4/6  .7: 4/7  .6: 4/8  .5: 6/9  .4: 8/10  .2: 8/11  .1: 8/12 -> best 0.8
    assert float(MF.best_f1(PROBS, GT)) == pytest.approx(0.8)
    # pairs (pos > neg): .9 -> 4, .8 -> 4, .5 -> 2, .4 -> 2: 12 / 16
    assert float(MF.pixel_auc(PROBS, GT)) == pytest.approx(0.75)


def test_inverted_max_hand_computed():
    probs = torch.tensor([[0.1, 0.9], [0.2, 0.8]])
    gt = torch.tensor([[1, 0], [1, 0]])
    assert float(MF.pixel_f1(probs, gt)) == 0.0  # flags exactly the two negatives
    assert float(MF.pixel_f1(probs, gt, inverted_max=True)) == 1.0  # the complement is the GT
    assert float(MF.pixel_iou(probs, gt, inverted_max=True)) == 1.0
    # plain best: >=.2 -> TP1 k3: 2/5; >=.1 -> TP2 k4: 4/6; the complement of ">= .8" is exact: 1
    assert float(MF.best_f1(probs, gt)) == pytest.approx(2 / 3)
    assert float(MF.best_f1(probs, gt, inverted_max=True)) == 1.0
    assert float(MF.pixel_auc(probs, gt)) == 0.0  # AUC is not inverted
    # inversion never lowers the score
    assert float(MF.pixel_f1(PROBS, GT, inverted_max=True)) == 0.5


def test_edge_cases():
    gt = torch.tensor([[1, 1], [0, 0]])
    zeros = torch.zeros(2, 2)
    assert float(MF.pixel_f1(zeros, gt)) == 0.0  # all-zero prediction on an edited image
    assert float(MF.pixel_iou(zeros, gt)) == 0.0
    assert float(MF.best_f1(zeros, gt)) == pytest.approx(2 / 3)  # ">= 0" flags everything: 4 / (4 + 2)
    assert float(MF.pixel_auc(zeros, gt)) == 0.5
    empty = torch.zeros(2, 2, dtype=torch.int64)
    for value in (
        MF.pixel_f1(zeros, empty),
        MF.pixel_f1(torch.ones(2, 2), empty),
        MF.pixel_iou(zeros, empty),
        MF.best_f1(zeros, empty),
        MF.pixel_auc(zeros, empty),
        MF.pixel_auc(zeros, torch.ones(2, 2)),  # all edited: AUC undefined too
    ):
        assert math.isnan(float(value))
    assert float(MF.false_alarm_area(torch.tensor([[0.6, 0.4], [0.5, 0.51]]))) == 0.5
    assert float(MF.false_alarm_area(torch.ones(3, 3))) == 1.0


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("levels", [None, 7, 255])  # continuous maps and maps with many ties
def test_against_sklearn(seed, levels):
    rng = np.random.default_rng(seed)
    gt = rng.random((37, 53)) < rng.uniform(0.05, 0.6)
    probs = np.clip(gt * 0.3 + rng.random(gt.shape) * 0.7, 0, 1).astype(np.float32)
    if levels:
        probs = (np.round(probs * levels) / levels).astype(np.float32)
    p, t = torch.from_numpy(probs), torch.from_numpy(gt.astype(np.uint8))
    y, pred = gt.ravel(), (probs > 0.5).ravel()
    assert float(MF.pixel_f1(p, t)) == pytest.approx(f1_score(y, pred))
    assert float(MF.pixel_iou(p, t)) == pytest.approx(jaccard_score(y, pred))
    prec, rec, _ = precision_recall_curve(y, probs.ravel())
    best = np.max(np.where(prec + rec > 0, 2 * prec * rec / np.maximum(prec + rec, 1e-12), 0))
    assert float(MF.best_f1(p, t)) == pytest.approx(best)
    assert float(MF.pixel_auc(p, t)) == pytest.approx(roc_auc_score(y, probs.ravel()))
    # inverted: sklearn on the complement of the binary prediction / on 1 - map
    inverted = max(f1_score(y, pred), f1_score(y, ~pred))
    assert float(MF.pixel_f1(p, t, inverted_max=True)) == pytest.approx(inverted)


def test_histogram_is_exact_on_8bit_maps_and_floors_otherwise():
    rng = np.random.default_rng(3)
    gt = torch.from_numpy(rng.random((64, 48)) < 0.3)
    probs8 = torch.from_numpy(rng.integers(0, 256, gt.shape).astype(np.float32) / 255)
    for fn in (MF.best_f1, MF.pixel_auc):
        assert float(fn(probs8, gt, num_thresholds=256)) == pytest.approx(float(fn(probs8, gt)), abs=1e-12)
    probs = torch.rand(gt.shape, generator=torch.Generator().manual_seed(0))
    floored = torch.floor(probs * 10) / 10
    assert float(MF.best_f1(probs, gt, num_thresholds=11)) == pytest.approx(float(MF.best_f1(floored, gt)))
    assert float(MF.pixel_auc(probs, gt, num_thresholds=11)) == pytest.approx(
        float(MF.pixel_auc(floored, gt))
    )


def test_border_band_hand_computed():
    gt = torch.zeros(40, 40)
    gt[10:25, 10:25] = 1  # a 15x15 square
    positive, negative = MF.border_band_masks(gt)
    assert int(positive.sum()) == 1 and bool(positive[17, 17])  # only the centre keeps a full 15x15 window
    assert int(negative.sum()) == 40 * 40 - 25 * 25  # dilation by 5 on each side: 25x25
    # a prediction that is wrong only inside the band scores a perfect F1 with the band ignored
    probs = gt.clone()
    probs[8:10, 8:27] = 1.0  # 2 rows just outside the square: in the band
    assert float(MF.pixel_f1(probs, gt)) < 1.0
    assert float(MF.pixel_f1(probs, gt, border_band=True)) == 1.0
    # a mask thinner than the erosion window has no positive left: undefined, not 0
    thin = torch.zeros(40, 40)
    thin[5:10, 5:30] = 1
    assert math.isnan(float(MF.pixel_f1(thin, thin, border_band=True)))


def test_border_band_matches_trufor_scipy():
    rng = np.random.default_rng(4)
    gt = np.zeros((70, 90), dtype=np.uint8)
    gt[5:50, 20:80] = 1
    gt[0:20, 0:30] = 1  # touches the image border
    gt[60:68, 40:45] = 1  # thin: vanishes under erosion
    positive, negative = MF.border_band_masks(torch.from_numpy(gt))
    gt1 = minimum_filter(gt, 15)  # TruFor's extractGTs
    gt0 = np.logical_not(maximum_filter(gt, 11))
    np.testing.assert_array_equal(positive.numpy(), gt1.astype(bool))
    np.testing.assert_array_equal(negative.numpy(), gt0)
    probs = rng.random(gt.shape).astype(np.float32)
    valid = gt1.astype(bool) | gt0
    y, s = gt1.astype(bool)[valid], probs[valid]
    p, t = torch.from_numpy(probs), torch.from_numpy(gt)
    assert float(MF.pixel_f1(p, t, border_band=True)) == pytest.approx(f1_score(y, s > 0.5))
    assert float(MF.pixel_auc(p, t, border_band=True)) == pytest.approx(roc_auc_score(y, s))


def test_image_level_against_sklearn():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 2, 50)
    scores = np.round(rng.normal(labels, 1.0), 1)  # real-valued, outside [0, 1], with ties
    s, y = torch.from_numpy(scores), torch.from_numpy(labels)
    assert float(MF.image_auc(s, y)) == pytest.approx(roc_auc_score(labels, scores))
    assert float(MF.image_balanced_accuracy(s, y, 0.5)) == pytest.approx(
        balanced_accuracy_score(labels, scores > 0.5)
    )
    one_class = torch.ones(5, dtype=torch.int64)
    assert math.isnan(float(MF.image_auc(s[:5], one_class)))
    assert math.isnan(float(MF.image_balanced_accuracy(s[:5], one_class)))
    # hand: scores .9 .4 (edited), .3 .6 (authentic): pairs 1 + 0 + 1 + 1 of 4 -> 0.75
    hand = MF.image_auc(torch.tensor([0.9, 0.4, 0.3, 0.6]), torch.tensor([1, 1, 0, 0]))
    assert float(hand) == 0.75
    # at 0.5: TPR 1/2, TNR 1/2
    assert (
        float(MF.image_balanced_accuracy(torch.tensor([0.9, 0.4, 0.3, 0.6]), torch.tensor([1, 1, 0, 0])))
        == 0.5
    )


def test_image_auc_and_balanced_accuracy_take_weights_as_the_bootstrap_does():
    """The one implementation of the image metrics: each row of weights counts each image that many times,
    as scikit-learn's sample_weight does (aggregate calls it for the point value and every resample)."""
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    rng = np.random.default_rng(7)
    labels = rng.integers(0, 2, 30)
    scores = np.round(rng.random(30), 1)  # ties
    weights = rng.integers(0, 4, (3, 30)).astype(np.float64)
    auc = MF.image_auc(scores, labels, weights)
    bacc = MF.image_balanced_accuracy(scores, labels, 0.5, 0.5, weights)
    assert auc.shape == bacc.shape == (3,)
    for row, a, b in zip(weights, auc, bacc):
        assert a == pytest.approx(roc_auc_score(labels, scores, sample_weight=row))
        assert b == pytest.approx(balanced_accuracy_score(labels, scores >= 0.5, sample_weight=row))
    assert float(MF.image_auc(scores, labels)) == pytest.approx(roc_auc_score(labels, scores))
