"""LocalizationMetrics: means over edited images, pooling, image-level metrics, DDP reduction."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import balanced_accuracy_score, f1_score, roc_auc_score

from deal.metrics import METRIC_KEYS, LocalizationMetrics, MetricConvention
from deal.metrics import functional as MF


def _batch(seed: int, n: int = 6, hw: tuple[int, int] = (24, 32), n_authentic: int = 2):
    """``n`` random maps and GTs, the last ``n_authentic`` with an empty GT."""
    g = torch.Generator().manual_seed(seed)
    gts = (torch.rand(n, *hw, generator=g) < torch.rand(n, 1, 1, generator=g) * 0.5).to(torch.uint8)
    gts[n - n_authentic :] = 0
    probs = (gts * 0.35 + torch.rand(n, *hw, generator=g) * 0.65).clamp(0, 1)
    labels = (gts.flatten(1).amax(1) > 0).to(torch.int64)
    return probs, gts, labels


def test_keys_and_hand_values():
    m = LocalizationMetrics()
    probs = [
        torch.tensor([[0.9, 0.6, 0.4, 0.1], [0.8, 0.5, 0.2, 0.7]]),
        torch.zeros(2, 2),
        torch.tensor([[0.7, 0.2]]),
    ]
    gts = [torch.tensor([[1, 0, 1, 0], [1, 1, 0, 0]]), torch.tensor([[1, 1], [0, 0]]), torch.zeros(1, 2)]
    m.update(probs, gts, torch.tensor([1, 1, 0]))
    out = m.compute()
    assert tuple(out) == tuple(METRIC_KEYS)
    assert out["pixel_f1"] == pytest.approx((0.5 + 0.0) / 2)  # see test_functional for the 0.5
    assert out["pixel_iou"] == pytest.approx((1 / 3 + 0.0) / 2)
    assert out["pixel_f1_best"] == pytest.approx((0.8 + 2 / 3) / 2)
    assert out["pixel_auc"] == pytest.approx((0.75 + 0.5) / 2)
    # pooled over all three images: TP 2, FP 2 + 0 + 1, FN 2 + 2 -> 4 / (4 + 3 + 4)
    assert out["pixel_f1_dataset"] == pytest.approx(4 / 11)
    assert out["false_alarm_area"] == 0.5
    # image scores (under 100 pixels: the maxima) .9, 0, .7 for labels 1, 1, 0: pairs (.9 > .7) only -> 1/2
    assert out["image_auc"] == 0.5
    # verdict at (0.5, 0.5): edited, authentic, edited -> TPR 1/2, TNR 0; nothing inconclusive
    assert out["image_bacc"] == 0.25 and out["image_inconclusive"] == 0.0
    assert (out["n_edited"], out["n_authentic"]) == (2, 1)
    assert (out["verdict_edited"], out["verdict_inconclusive"], out["verdict_authentic"]) == (2, 0, 1)
    wide = LocalizationMetrics(image_thresholds=(0.5, 0.8))
    wide.update(probs, gts, torch.tensor([1, 1, 0]))
    out = wide.compute()  # .9 edited, 0 authentic, .7 inconclusive
    assert (out["verdict_edited"], out["verdict_inconclusive"], out["verdict_authentic"]) == (1, 1, 1)
    assert out["image_bacc"] == pytest.approx(0.25) and out["image_inconclusive"] == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    "inverted_max,border_band", [(False, False), (True, False), (False, True), (True, True)]
)
def test_matches_functional_and_sklearn(inverted_max, border_band):
    probs, gts, labels = _batch(0, n=8, hw=(40, 48))
    gts[0] = 0
    gts[0, 5:30, 5:40] = (
        1  # one mask that survives the border-band erosion (random ones vanish: NaN, skipped)
    )
    labels[0] = 1
    m = LocalizationMetrics(inverted_max=inverted_max, border_band=border_band)
    m.update(probs, gts, labels)
    out = m.compute()
    edited = [i for i in range(len(labels)) if labels[i] == 1]
    opts = {"inverted_max": inverted_max, "border_band": border_band}

    def mean(fn, **kw):
        vals = [float(fn(probs[i], gts[i], **kw)) for i in edited]
        return np.nanmean(vals)

    assert out["pixel_f1"] == pytest.approx(mean(MF.pixel_f1, **opts))
    assert out["pixel_iou"] == pytest.approx(mean(MF.pixel_iou, **opts))
    assert out["pixel_f1_best"] == pytest.approx(mean(MF.best_f1, **opts))
    assert out["pixel_auc"] == pytest.approx(mean(MF.pixel_auc, border_band=border_band))
    if not border_band:
        # sklearn references, independent of deal.metrics.functional
        f1s = [f1_score(gts[i].numpy().ravel(), probs[i].numpy().ravel() > 0.5) for i in edited]
        if inverted_max:
            f1s = [
                max(f, f1_score(gts[i].numpy().ravel(), probs[i].numpy().ravel() <= 0.5))
                for f, i in zip(f1s, edited)
            ]
        assert out["pixel_f1"] == pytest.approx(np.mean(f1s))
        aucs = [roc_auc_score(gts[i].numpy().ravel(), probs[i].numpy().ravel()) for i in edited]
        assert out["pixel_auc"] == pytest.approx(np.mean(aucs))
        y, s = gts.numpy().ravel(), probs.numpy().ravel()
        assert out["pixel_f1_dataset"] == pytest.approx(f1_score(y, s > 0.5))  # authentic pixels pooled too
    flat = np.sort(probs.flatten(1).numpy(), axis=1)  # the top 1% of 40 x 48 pixels: the 20 highest
    scores = flat[:, -math.ceil(0.01 * flat.shape[1]) :].mean(axis=1)
    assert out["image_auc"] == pytest.approx(roc_auc_score(labels.numpy(), scores))
    assert out["image_bacc"] == pytest.approx(balanced_accuracy_score(labels.numpy(), scores > 0.5))
    authentic = [i for i in range(len(labels)) if labels[i] == 0]
    assert out["false_alarm_area"] == pytest.approx(
        np.mean([float((probs[i] > 0.5).float().mean()) for i in authentic])
    )


def test_lists_of_different_sizes_and_given_scores():
    a_probs, a_gts, a_labels = _batch(1, n=3, hw=(16, 20), n_authentic=1)
    b_probs, b_gts, b_labels = _batch(2, n=3, hw=(30, 12), n_authentic=1)
    scores = torch.tensor([0.2, 0.9, 0.1, 0.8, 0.3, 0.4])
    m = LocalizationMetrics()
    m.update([*a_probs, *b_probs], [*a_gts, *b_gts], torch.cat([a_labels, b_labels]), scores)
    out = m.compute()
    per_part = LocalizationMetrics()
    per_part.update(a_probs, a_gts, a_labels)
    per_part.update(b_probs, b_gts, b_labels)
    for key in (
        "pixel_f1",
        "pixel_f1_best",
        "pixel_f1_dataset",
        "pixel_iou",
        "pixel_auc",
        "false_alarm_area",
    ):
        assert out[key] == pytest.approx(per_part.compute()[key])
    labels = torch.cat([a_labels, b_labels]).numpy()
    assert out["image_auc"] == pytest.approx(roc_auc_score(labels, scores.numpy()))
    assert (out["n_edited"], out["n_authentic"]) == (4, 2)


@pytest.mark.filterwarnings("ignore:The ``compute`` method")
def test_labels_default_to_nonempty_gt_and_undefined_values_are_nan():
    probs, gts, _ = _batch(3, n=4, n_authentic=0)
    m = LocalizationMetrics()
    m.update(probs, gts)  # no labels: all GTs non-empty -> all edited
    out = m.compute()
    assert out["n_edited"] == 4 and out["n_authentic"] == 0
    assert (
        math.isnan(out["false_alarm_area"]) and math.isnan(out["image_auc"]) and math.isnan(out["image_bacc"])
    )
    empty = LocalizationMetrics().compute()
    assert empty["n_edited"] == 0 and math.isnan(empty["pixel_f1"]) and math.isnan(empty["pixel_f1_dataset"])


def test_histogram_option_on_8bit_maps():
    probs, gts, labels = _batch(4)
    probs = torch.round(probs * 255) / 255
    exact, hist = LocalizationMetrics(), LocalizationMetrics(num_thresholds=256)
    exact.update(probs, gts, labels)
    hist.update(probs, gts, labels)
    for key in METRIC_KEYS:
        assert hist.compute()[key] == pytest.approx(exact.compute()[key], nan_ok=True)


def test_input_errors():
    m = LocalizationMetrics()
    with pytest.raises(ValueError, match="labels\\[0\\] is 0"):
        m.update(torch.zeros(1, 2, 2), torch.ones(1, 2, 2), torch.tensor([0]))
    with pytest.raises(ValueError, match="outside \\[0, 1\\]"):
        m.update(torch.full((1, 2, 2), 1.5), torch.ones(1, 2, 2))
    with pytest.raises(ValueError, match="probs\\[0\\] is \\(2, 2\\) but targets\\[0\\] is \\(3, 2\\)"):
        m.update([torch.zeros(2, 2)], [torch.zeros(3, 2)])
    with pytest.raises(ValueError, match="threshold"):
        LocalizationMetrics(threshold=2.0)


def test_convention_names_the_settings():
    default = MetricConvention().describe()
    assert "p>0.5" in default and "inverted max off" in default
    m = LocalizationMetrics(0.3, inverted_max=True, border_band=True, num_thresholds=256)
    assert "p>0.3" in m.convention and "inverted max on" in m.convention and "erode 15" in m.convention
    assert "256-step grid" in m.convention


def _halves():
    probs, gts, labels = _batch(5, n=10, n_authentic=4)
    probs[0] = 0.0  # an all-zero prediction on an edited image
    return (probs[:7], gts[:7], labels[:7]), (probs[7:], gts[7:], labels[7:]), (probs, gts, labels)


def test_merge_state_equals_one_pass():
    first, second, full = _halves()
    rank0, rank1, single = LocalizationMetrics(), LocalizationMetrics(), LocalizationMetrics()
    rank0.update(*first)
    rank1.update(*second)
    single.update(*full)
    rank0.merge_state(rank1)
    merged, expected = rank0.compute(), single.compute()
    for key in METRIC_KEYS:
        assert merged[key] == pytest.approx(expected[key], nan_ok=True), key


def test_distributed_sync_equals_one_pass():
    """Drive torchmetrics' real DDP path (gather, then each state's dist_reduce_fx) in compute(),
    with a fake two-rank all_gather that hands over rank 1's states."""
    first, second, full = _halves()
    rank1, single = LocalizationMetrics(), LocalizationMetrics()
    rank1.update(*second)
    single.update(*full)
    # rank 1's states as its all_gather would send them, in torchmetrics' state order (lists pre-concatenated)
    sent = iter(
        torch.cat(v) if isinstance(v, list) else v for v in (getattr(rank1, a) for a in rank1._reductions)
    )
    rank0 = LocalizationMetrics(
        dist_sync_fn=lambda tensor, group=None: [tensor, next(sent)], distributed_available_fn=lambda: True
    )
    rank0.update(*first)
    synced, expected = rank0.compute(), single.compute()
    for key in METRIC_KEYS:
        assert synced[key] == pytest.approx(expected[key], nan_ok=True), key
    assert next(sent, None) is None  # every state went through the gather


def test_image_auc_and_bacc_rank_the_top_1pct_score_not_the_map_mean_or_maximum():
    """Edits with a small hot spot (top 1% high, mean low) against authentic maps that are uniformly
    moderate or have one hot pixel: the top-1% score separates them, the mean and the maximum do not."""
    edited, authentic = [], []
    for i in range(3):
        m = torch.full((20, 20), 0.1)
        m[i : i + 2, 5:7] = 0.95  # 4 pixels: the top 1% of 400
        edited.append(m)
    authentic.append(torch.full((20, 20), 0.45))  # mean 0.45 > every edit's, score 0.45 < 0.5
    hot = torch.full((20, 20), 0.2)
    hot[3, 3] = 0.9  # max 0.9 >= 0.5, top-1% mean (0.9 + 3 x 0.2) / 4 = 0.375 < 0.5
    authentic.append(hot)
    maps = edited + authentic
    gts = [torch.zeros(20, 20, dtype=torch.uint8) for _ in maps]
    for g in gts[:3]:
        g[8:12, 8:12] = 1
    labels = torch.tensor([1, 1, 1, 0, 0])
    m = LocalizationMetrics()
    m.update(maps, gts, labels)
    out = m.compute()
    assert out["image_auc"] == 1.0 and out["image_bacc"] == 1.0
    # the same maps scored by their mean, or by their maximum, give other numbers: the check discriminates
    for other in (torch.stack(maps).mean(dim=(1, 2)), torch.stack(maps).amax(dim=(1, 2))):
        alt = LocalizationMetrics()
        alt.update(maps, gts, labels, scores=other)
        assert (alt.compute()["image_auc"], alt.compute()["image_bacc"]) != (1.0, 1.0)
