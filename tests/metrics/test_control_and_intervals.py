"""The objectness control, MCC, F1 at 0.5 and at the convention's threshold, bootstrap intervals, the convention
object, the metric keys' one source, and the verdict-limitation sentence."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from torchmetrics.functional.classification import binary_matthews_corrcoef

from deal.metrics import INTERVAL_KEYS, METRIC_KEYS, LocalizationMetrics, MetricConvention
from deal.metrics import functional as MF
from deal.metrics.image_score import verdict, verdict_limitation
from deal.metrics.keys import metric_table
from deal.metrics.localization import COLUMNS, aggregate


def _images(seed: int, n: int = 8, hw: tuple[int, int] = (20, 24)):
    """``n`` edited images (a rectangle each), maps that favour it, and control maps that favour it less."""
    g = torch.Generator().manual_seed(seed)
    gts = torch.zeros(n, *hw, dtype=torch.uint8)
    for i in range(n):
        gts[i, 2 + i % 5 : 12 + i % 5, 3 : 10 + i] = 1
    probs = (gts * 0.3 + torch.rand(n, *hw, generator=g) * 0.7).clamp(0, 1)
    controls = (gts * 0.1 + torch.rand(n, *hw, generator=g) * 0.9).clamp(0, 1)
    return probs, gts, controls


def test_mcc_matches_torchmetrics_off_the_degenerate_cases_and_f1_at_half_and_at_threshold():
    probs, gts, _ = _images(0)
    m = LocalizationMetrics(threshold=0.4)
    m.update(probs, gts)
    out = m.compute()
    mcc = [float(binary_matthews_corrcoef(p.flatten(), g.flatten(), threshold=0.4)) for p, g in zip(probs, gts)]
    # torchmetrics flags p > threshold, as deal does
    assert out["pixel_mcc"] == pytest.approx(np.mean(mcc), abs=1e-6)
    assert out["pixel_f1"] == pytest.approx(np.mean([float(MF.pixel_f1(p, g, 0.5)) for p, g in zip(probs, gts)]))
    at_t = np.mean([float(MF.pixel_f1(p, g, 0.4)) for p, g in zip(probs, gts)])
    assert out["pixel_f1_calibrated"] == pytest.approx(at_t) and out["pixel_f1_calibrated"] != out["pixel_f1"]


@pytest.mark.filterwarnings("ignore")  # scikit-learn warns on the degenerate cases it scores 0
@pytest.mark.parametrize(
    "flagged,edited",
    [("all", "some"), ("none", "some"), ("all", "all"), ("none", "all")],
)
def test_degenerate_mcc_is_zero_as_in_scikit_learn_not_torchmetrics(flagged, edited):
    """An empty marginal (nothing or everything flagged, or a mask covering the image): deal and scikit-learn
    give 0, torchmetrics' binary_matthews_corrcoef does not (1.0, -1.0 or +-0.129 here): docs/metrics.md
    says which one deal follows."""
    from pathlib import Path

    from sklearn.metrics import matthews_corrcoef

    probs = torch.ones(4, 4) if flagged == "all" else torch.zeros(4, 4)
    gt = torch.ones(4, 4, dtype=torch.bool) if edited == "all" else torch.arange(16).reshape(4, 4) < 6
    deal_mcc = float(MF.mcc_from_counts(MF.confusion_counts(probs, gt, 0.5)))
    assert deal_mcc == 0.0 == matthews_corrcoef(gt.flatten().numpy(), (probs > 0.5).flatten().numpy())
    torchmetrics_mcc = float(binary_matthews_corrcoef(probs.flatten(), gt.flatten().long(), threshold=0.5))
    assert abs(torchmetrics_mcc) > 0.1  # the convention deal does NOT follow here
    m = LocalizationMetrics()
    m.update([probs], [gt])
    assert m.compute()["pixel_mcc"] == 0.0
    page = " ".join((Path(__file__).resolve().parents[2] / "docs" / "metrics.md").read_text(encoding="utf-8").split())
    assert "scikit-learn's `matthews_corrcoef`" in page and "torchmetrics' `binary_matthews_corrcoef` differs" in page


def test_control_and_lift_are_per_image_differences():
    probs, gts, controls = _images(1)
    m = LocalizationMetrics()
    m.update(probs, gts, controls=list(controls[:6]) + [None, None])  # two edits without an original
    out = m.compute()
    auc = [float(MF.pixel_auc(p, g)) for p, g in zip(probs, gts)]
    auc_c = [float(MF.pixel_auc(c, g)) for c, g in zip(controls[:6], gts[:6])]
    best_c = [float(MF.best_f1(c, g)) for c, g in zip(controls[:6], gts[:6])]
    best = [float(MF.best_f1(p, g)) for p, g in zip(probs, gts)]
    assert out["n_control"] == 6 and out["n_edited"] == 8
    assert out["pixel_auc"] == pytest.approx(np.mean(auc))  # over all 8
    assert out["pixel_auc_control"] == pytest.approx(np.mean(auc_c))  # over the 6 with an original
    assert out["pixel_auc_lift"] == pytest.approx(np.mean(np.subtract(auc[:6], auc_c)))
    assert out["pixel_f1_best_control"] == pytest.approx(np.mean(best_c))
    assert out["pixel_f1_best_lift"] == pytest.approx(np.mean(np.subtract(best[:6], best_c)))
    assert out["pixel_auc_lift"] > 0.2  # the maps favour the edit more than the controls do
    with pytest.raises(ValueError, match=r"controls\[0\] is \(3, 3\) but targets\[0\] is \(20, 24\)"):
        m.update(probs[:1], gts[:1], controls=[torch.zeros(3, 3)])
    with pytest.raises(ValueError, match="given for an authentic image"):
        m.update([torch.zeros(2, 2)], [torch.zeros(2, 2)], controls=[torch.zeros(2, 2)])


def test_lift_and_control_average_over_the_paired_images_only():
    """An edited image with an original but an undefined pixel AUC (its mask covers the image) is not paired:
    every control key and lift averages over the same paired images, and n_control counts them."""
    probs, gts, controls = _images(3, n=4)
    gts[3] = 1  # the whole image edited: AUC undefined for the edit and its control
    m = LocalizationMetrics()
    m.update(probs, gts, controls=list(controls[:2]) + [None, controls[3]])  # image 2 has no original
    out = m.compute()
    paired = [0, 1]
    auc = [float(MF.pixel_auc(probs[i], gts[i])) for i in paired]
    auc_c = [float(MF.pixel_auc(controls[i], gts[i])) for i in paired]
    best = [float(MF.best_f1(probs[i], gts[i])) for i in paired]
    best_c = [float(MF.best_f1(controls[i], gts[i])) for i in paired]
    assert (out["n_edited"], out["n_control"]) == (4, 2)
    assert out["pixel_auc_control"] == pytest.approx(np.mean(auc_c))
    assert out["pixel_auc_lift"] == pytest.approx(np.mean(auc) - out["pixel_auc_control"])
    assert out["pixel_f1_best_control"] == pytest.approx(np.mean(best_c))  # not image 3's (defined: 1.0)
    assert out["pixel_f1_best_lift"] == pytest.approx(np.mean(best) - out["pixel_f1_best_control"])
    # pixel_auc is over every edited image with a defined AUC (0, 1, 2): the lift is not pixel_auc - control
    assert out["pixel_auc"] == pytest.approx(np.mean([float(MF.pixel_auc(probs[i], gts[i])) for i in range(3)]))
    assert out["pixel_auc_lift"] != pytest.approx(out["pixel_auc"] - out["pixel_auc_control"])


def test_image_auc_matches_sklearn_with_ties():
    rows = np.full((7, len(COLUMNS)), np.nan)
    rows[:, COLUMNS.index("label")] = [1, 0, 1, 1, 0, 0, 1]
    rows[:, COLUMNS.index("score")] = [0.9, 0.2, 0.2, 0.7, 0.7, 0.1, 0.5]
    for k in ("tp", "fp", "fn", "has_control"):
        rows[:, COLUMNS.index(k)] = 0
    out = aggregate(rows, (0.5, 0.5))
    assert float(out["image_auc"][0]) == pytest.approx(roc_auc_score(rows[:, 0], rows[:, 1]))


def test_bootstrap_is_seeded_percentile_over_images():
    probs, gts, controls = _images(2, n=10)
    convention = MetricConvention(bootstrap=200, seed=7)
    m = LocalizationMetrics(convention=convention)
    m.update(probs, gts, controls=list(controls))
    out = m.compute()
    assert set(out) == set(METRIC_KEYS) | {f"{k}_{s}" for k in INTERVAL_KEYS for s in ("lo", "hi")}
    # the same resamples by hand: 200 draws of 10 image indices, the mean per-image AUC of each
    auc = np.array([float(MF.pixel_auc(p, g)) for p, g in zip(probs, gts)])
    idx = np.random.default_rng(7).integers(0, 10, size=(200, 10))
    lo, hi = np.percentile(auc[idx].mean(axis=1), [2.5, 97.5])
    assert (out["pixel_auc_lo"], out["pixel_auc_hi"]) == pytest.approx((lo, hi))
    assert out["pixel_auc_lo"] < out["pixel_auc"] < out["pixel_auc_hi"]
    again = LocalizationMetrics(convention=convention)
    again.update(probs, gts, controls=list(controls))
    assert again.compute() == pytest.approx(out, nan_ok=True)  # seeded: identical
    other = LocalizationMetrics(convention=convention.replace(seed=8))
    other.update(probs, gts, controls=list(controls))
    assert other.compute()["pixel_auc_lo"] != out["pixel_auc_lo"]
    # image-level metrics undefined on all resamples (no authentic image): NaN intervals
    assert math.isnan(out["image_auc_lo"]) and math.isnan(out["image_auc"])
    assert "pixel_auc_lo" not in LocalizationMetrics().compute()  # the short form has no intervals


def test_convention_object_round_trips_and_validates():
    c = MetricConvention(threshold=0.3, inverted_max=True, image_thresholds=(0.2, 0.9), bootstrap=50)
    assert MetricConvention.from_dict(c.to_dict()) == c
    assert c.to_dict()["image_thresholds"] == [0.2, 0.9] and "top 1%" in c.to_dict()["image_score"]
    assert MetricConvention(threshold=0.3).image_thresholds == (0.3, 0.3)
    assert MetricConvention(threshold=0.3).replace(threshold=0.6).image_thresholds == (0.6, 0.6)
    assert c.replace(threshold=0.6).image_thresholds == (0.2, 0.9)  # set apart from the threshold: kept
    assert "p>0.3" in c.describe() and "inverted max on" in c.describe() and "50 resamples" in c.describe()
    m = LocalizationMetrics(convention=c)
    assert (m.threshold, m.inverted_max, m.image_thresholds) == (0.3, True, (0.2, 0.9))
    for bad in ({"threshold": 2.0}, {"bootstrap": -1}, {"num_thresholds": 1}, {"image_thresholds": (0.9, 0.2)}):
        with pytest.raises(ValueError):
            MetricConvention(**bad)


def test_every_reported_key_is_defined_once():
    m = LocalizationMetrics(convention=MetricConvention(bootstrap=10))
    probs, gts, _ = _images(3, n=3)
    m.update(probs, gts)
    out = m.compute()
    assert [k for k in out if not k.endswith(("_lo", "_hi"))] == list(METRIC_KEYS)
    assert all(METRIC_KEYS[k] and "\n" not in METRIC_KEYS[k] for k in METRIC_KEYS)
    table = metric_table()
    assert table.count("\n") == len(METRIC_KEYS) + 1 and "| `pixel_auc_lift` | AUC lift |" in table


def test_the_verdict_rule_is_one_comparison():
    scores = torch.tensor([0.1, 0.3, 0.5, 0.7, 0.9], dtype=torch.float64)
    edited, authentic = MF.image_decisions(scores, 0.3, 0.7)
    words = [verdict(float(s), 0.3, 0.7) for s in scores]
    assert words == ["authentic", "inconclusive", "inconclusive", "edited", "edited"]
    assert [("edited" if e else "authentic" if a else "inconclusive") for e, a in zip(edited, authentic)] == words


def test_verdict_limitation_sentence():
    assert verdict_limitation(0.2, 0.8, 0.9, True) is None
    never_authentic = verdict_limitation(0.0, 0.96, 0.9, True)
    assert never_authentic.startswith("This detector can never say authentic (image_threshold_low = 0")
    assert "stated precision of 0.9" in never_authentic and never_authentic.count(". ") == 0
    missed = verdict_limitation(0.3, 1.0, 0.9, False)
    assert "missed the stated precision of 0.9 for edited" in missed
    both = verdict_limitation(0.0, 1.0, 0.9, False)
    assert "for neither verdict" in both and "inconclusive" in both
    assert verdict_limitation(0.3, 0.8, 0.9, False) is None  # thresholds set by hand after a failed calibration
