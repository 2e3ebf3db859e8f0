"""Localization and detection metrics as pure torch functions over ONE image (or one score vector).

Conventions (see docs/metrics.md; every choice below is what :class:`LocalizationMetrics` reports):

* ``probs`` is an ``HxW`` float map in [0, 1], ``target`` an ``HxW`` map where 1 = edited
  (anything > 0.5 counts as edited, so {0, 1} masks of any dtype work).
* At a fixed threshold a pixel is flagged when ``probs > threshold`` (strict, as in TruFor's
  ``computeMetrics_th`` and IMDL-BenCo), so a map that is exactly 0.5 flags nothing at 0.5.
* Best F1 (PR curve) flags ``probs >= t`` for every distinct value ``t`` of the map (scikit-learn's
  ``precision_recall_curve`` convention; the "flag everything" point is included), plus the
  "flag nothing" point. ``num_thresholds=None`` is exact: one sort per image, O(N log N), exactly
  scikit-learn's numbers. ``num_thresholds=K`` bins the map on the grid ``t_k = k / (K - 1)`` with a
  histogram (O(N), no sort): exact for maps quantized on that grid (``K=256`` for 8-bit PNG maps),
  otherwise the scores are floored onto the grid first.
* Pixel ROC-AUC uses the same cumulative counts (trapezoid over the ROC points, ties on the
  diagonal: scikit-learn's ``roc_auc_score``).
* ``inverted_max``: the better of the flagged set and its complement, per image (TruFor's
  ``max(F1(map), F1(1 - map))``, computed as TruFor does by swapping TP<->FN and FP<->TN). It applies
  to F1, IoU, precision, recall (all taken from the orientation with the higher F1) and best F1;
  not to AUC.
* ``border_band``: TruFor's band around the GT boundary is ignored: positives are
  ``min_filter(gt, 15)`` (erosion, 15x15 window), negatives ``not max_filter(gt, 11)`` (dilation,
  11x11); pixels in neither do not count. Windows are clipped at the image border (scipy's
  ``minimum_filter``/``maximum_filter`` with their default ``reflect`` mode give the same masks).
* Undefined values are NaN and are left out of means: every pixel metric of an image without a
  (valid) GT pixel (an authentic image, or an edit thinner than the erosion window with
  ``border_band``), AUC when the image also has no negative pixel, image-level AUC and balanced
  accuracy without both labels. An all-zero prediction on an edited image has F1 = 0.
* An authentic image contributes :func:`false_alarm_area` (fraction of its pixels flagged) instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from deal.metrics.image_score import is_edited

NAN = float("nan")

# The indices of the counts vector returned by :func:`confusion_counts`.
TP, FP, FN, TN = 0, 1, 2, 3


def binarize_target(target: Tensor) -> Tensor:
    """``HxW`` GT of any dtype as a bool map (True = edited: value > 0.5)."""
    return target > 0.5 if target.dtype != torch.bool else target


def border_band_masks(target: Tensor, erode_size: int = 15, dilate_size: int = 11) -> tuple[Tensor, Tensor]:
    """TruFor's border band: the GT pixels that count as positive and as negative.

    Args:
        target: ``HxW`` GT (1 = edited).
        erode_size: odd window of the erosion that gives the positives (``min_filter``).
        dilate_size: odd window of the dilation whose complement gives the negatives (``max_filter``).

    Returns:
        ``(positive, negative)``, two disjoint ``HxW`` bool maps; pixels in neither are ignored.
    """
    if erode_size % 2 == 0 or dilate_size % 2 == 0:
        raise ValueError(f"border band windows must be odd, got erode {erode_size}, dilate {dilate_size}")
    gt = binarize_target(target).to(torch.float32)[None, None]
    dilated = _box_max(gt, dilate_size)
    eroded = -_box_max(-gt, erode_size)
    return eroded[0, 0] > 0.5, dilated[0, 0] < 0.5


def _box_max(x: Tensor, size: int) -> Tensor:
    """Max over a ``size x size`` window clipped at the image border (max_pool2d pads with -inf), as two
    separable 1-D passes. ``1x1xHxW`` -> same."""
    x = F.max_pool2d(x, (1, size), stride=1, padding=(0, size // 2))
    return F.max_pool2d(x, (size, 1), stride=1, padding=(size // 2, 0))


def positive_and_valid(target: Tensor, border_band: bool) -> tuple[Tensor, Tensor | None]:
    """The bool GT positives and the bool mask of the pixels that count (None = all), ``HxW`` each."""
    if not border_band:
        return binarize_target(target), None
    positive, negative = border_band_masks(target)
    return positive, positive | negative


def confusion_counts(
    probs: Tensor, positive: Tensor, threshold: float = 0.5, valid: Tensor | None = None
) -> Tensor:
    """TP, FP, FN, TN of ``probs > threshold`` against a bool GT, over the ``valid`` pixels.

    Args:
        probs: ``HxW`` probabilities.
        positive: ``HxW`` bool GT (True = edited).
        threshold: a pixel is flagged when ``probs > threshold``.
        valid: ``HxW`` bool map of the pixels that count, or None for all.

    Returns:
        int64 tensor ``(4,)``: ``[tp, fp, fn, tn]`` (index with ``TP, FP, FN, TN``).
    """
    flagged = probs > threshold
    if valid is not None:
        flagged, positive = flagged[valid], positive[valid]
    n = flagged.numel()
    n_pos = int(positive.sum())
    tp = int((flagged & positive).sum())
    n_flagged = int(flagged.sum())
    fp = n_flagged - tp
    fn = n_pos - tp
    return torch.tensor([tp, fp, fn, n - tp - fp - fn], dtype=torch.int64)


def invert_counts(counts: Tensor) -> Tensor:
    """The counts of the complementary prediction (flagged <-> not flagged): TP<->FN, FP<->TN."""
    return counts[..., [FN, TN, TP, FP]]


def f1_from_counts(counts: Tensor) -> Tensor:
    """F1 = 2TP / (2TP + FP + FN) from ``(..., 4)`` counts; NaN where there is no GT positive."""
    c = counts.to(torch.float64)
    tp, fp, fn = c[..., TP], c[..., FP], c[..., FN]
    f1 = 2 * tp / (2 * tp + fp + fn)
    return torch.where(tp + fn > 0, f1, torch.full_like(f1, NAN))


def iou_from_counts(counts: Tensor) -> Tensor:
    """IoU = TP / (TP + FP + FN) from ``(..., 4)`` counts; NaN where there is no GT positive."""
    c = counts.to(torch.float64)
    tp, fp, fn = c[..., TP], c[..., FP], c[..., FN]
    iou = tp / (tp + fp + fn)
    return torch.where(tp + fn > 0, iou, torch.full_like(iou, NAN))


def mcc_from_counts(counts: Tensor) -> Tensor:
    """Matthews correlation from ``(..., 4)`` counts; 0 where a marginal is empty (nothing flagged, everything
    flagged, or a mask that covers the image): scikit-learn's ``matthews_corrcoef`` convention. torchmetrics'
    ``binary_matthews_corrcoef`` differs there (for example 1.0 for an all-flagged image whose mask covers
    it, +-0.13 for an all-flagged or nothing-flagged 4x4 image with 6 edited pixels). NaN where there is no
    GT positive.

    From the counts (not torchmetrics' function) because the counts are already oriented by ``inverted_max``
    and restricted to the border band's valid pixels."""
    c = counts.to(torch.float64)
    tp, fp, fn, tn = c[..., TP], c[..., FP], c[..., FN], c[..., TN]
    denom = ((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)).sqrt()
    mcc = torch.where(denom > 0, (tp * tn - fp * fn) / denom.clamp_min(1e-300), torch.zeros_like(tp))
    return torch.where(tp + fn > 0, mcc, torch.full_like(mcc, NAN))


def oriented_counts(counts: Tensor, inverted_max: bool) -> Tensor:
    """``counts``, or those of the complementary prediction when ``inverted_max`` and its F1 is higher."""
    if not inverted_max:
        return counts
    inverted = invert_counts(counts)
    return inverted if bool(f1_from_counts(inverted) > f1_from_counts(counts)) else counts


def image_counts(
    probs: Tensor,
    target: Tensor,
    threshold: float = 0.5,
    *,
    inverted_max: bool = False,
    border_band: bool = False,
) -> Tensor:
    """The ``(4,)`` counts of one image under the convention's options (see the module docstring)."""
    positive, valid = positive_and_valid(target, border_band)
    return oriented_counts(confusion_counts(probs, positive, threshold, valid), inverted_max)


def pixel_f1(
    probs: Tensor,
    target: Tensor,
    threshold: float = 0.5,
    *,
    inverted_max: bool = False,
    border_band: bool = False,
) -> Tensor:
    """Per-image F1 of ``probs > threshold`` (float64 scalar; NaN when the GT is empty)."""
    return f1_from_counts(
        image_counts(probs, target, threshold, inverted_max=inverted_max, border_band=border_band)
    )


def pixel_iou(
    probs: Tensor,
    target: Tensor,
    threshold: float = 0.5,
    *,
    inverted_max: bool = False,
    border_band: bool = False,
) -> Tensor:
    """Per-image IoU (Jaccard) of ``probs > threshold`` (float64 scalar; NaN when the GT is empty)."""
    return iou_from_counts(
        image_counts(probs, target, threshold, inverted_max=inverted_max, border_band=border_band)
    )


def curve_counts(
    scores: Tensor, positive: Tensor, valid: Tensor | None = None, num_thresholds: int | None = None
) -> tuple[Tensor, Tensor]:
    """Cumulative TP and FP of ``scores >= t`` for decreasing thresholds ``t``.

    Written by hand (scikit-learn's ``_binary_clf_curve`` in torch) because best F1, inverted best
    F1 and ROC-AUC all come from these counts, from one sort, on the metric's device; torchmetrics
    has the same routine only as a private function.

    Args:
        scores: any shape, in [0, 1] when ``num_thresholds`` is set.
        positive: bool, same shape (True = edited).
        valid: bool, same shape, pixels that count; None for all.
        num_thresholds: None: one point per distinct score (exact). K: the grid ``k / (K - 1)``.

    Returns:
        ``(tps, fps)``, int64 ``(M,)`` each, nondecreasing; the first point is ``(0, 0)`` (nothing
        flagged), the last flags every counted pixel.
    """
    scores, positive = scores.reshape(-1), positive.reshape(-1)
    if valid is not None:
        valid = valid.reshape(-1)
        scores, positive = scores[valid], positive[valid]
    zero = torch.zeros(1, dtype=torch.int64, device=scores.device)
    if num_thresholds is None:
        order = torch.argsort(scores, descending=True)
        sorted_scores = scores[order]
        tps = torch.cumsum(positive[order].to(torch.int64), 0)
        fps = torch.arange(1, scores.numel() + 1, device=scores.device) - tps
        # keep the last position of each run of equal scores: the counts of ">= that score"
        last = torch.ones_like(sorted_scores, dtype=torch.bool)
        last[:-1] = sorted_scores[1:] != sorted_scores[:-1]
        return torch.cat([zero, tps[last]]), torch.cat([zero, fps[last]])
    if num_thresholds < 2:
        raise ValueError(f"num_thresholds must be None or >= 2, got {num_thresholds}")
    # Thresholds computed in float64 then cast, so that an 8-bit value v/255 lands exactly on t_v.
    grid = (
        torch.arange(num_thresholds, dtype=torch.float64, device=scores.device) / (num_thresholds - 1)
    ).to(scores.dtype)
    bins = (torch.bucketize(scores, grid, right=True) - 1).clamp_(
        0, num_thresholds - 1
    )  # grid[b] <= s < grid[b+1]
    pos_hist = torch.bincount(bins[positive], minlength=num_thresholds)
    all_hist = torch.bincount(bins, minlength=num_thresholds)
    tps = torch.cumsum(pos_hist.flip(0), 0)  # thresholds from high to low
    fps = torch.cumsum(all_hist.flip(0), 0) - tps
    return torch.cat([zero, tps]), torch.cat([zero, fps])


def best_f1_from_curve(tps: Tensor, fps: Tensor, inverted_max: bool = False) -> Tensor:
    """Max F1 over the curve points of :func:`curve_counts` (float64; NaN without positives)."""
    n_pos, n_neg = int(tps[-1]), int(fps[-1])
    if n_pos == 0:
        return torch.tensor(NAN, dtype=torch.float64)
    tp, fp = tps.to(torch.float64), fps.to(torch.float64)
    best = (2 * tp / (tp + fp + n_pos)).max()
    if inverted_max:  # the complement of "flagged at t": TP' = FN, FP' = TN, FN' = TP
        tp_i, fp_i = n_pos - tp, n_neg - fp
        best = torch.maximum(best, (2 * tp_i / (2 * tp_i + fp_i + tp)).max())
    return best


def auc_from_curve(tps: Tensor, fps: Tensor) -> Tensor:
    """ROC-AUC (trapezoid) from the curve points of :func:`curve_counts`; NaN without both classes."""
    n_pos, n_neg = int(tps[-1]), int(fps[-1])
    if n_pos == 0 or n_neg == 0:
        return torch.tensor(NAN, dtype=torch.float64)
    return torch.trapezoid(tps.to(torch.float64) / n_pos, fps.to(torch.float64) / n_neg)


def best_f1(
    probs: Tensor,
    target: Tensor,
    *,
    num_thresholds: int | None = None,
    inverted_max: bool = False,
    border_band: bool = False,
) -> Tensor:
    """Per-image best F1 over all thresholds (float64 scalar; NaN when the GT is empty)."""
    positive, valid = positive_and_valid(target, border_band)
    tps, fps = curve_counts(probs, positive, valid, num_thresholds)
    return best_f1_from_curve(tps, fps, inverted_max)


def pixel_auc(
    probs: Tensor, target: Tensor, *, num_thresholds: int | None = None, border_band: bool = False
) -> Tensor:
    """Per-image pixel ROC-AUC (float64 scalar; NaN when the GT is all 0 or all 1)."""
    positive, valid = positive_and_valid(target, border_band)
    return auc_from_curve(*curve_counts(probs, positive, valid, num_thresholds))


def false_alarm_area(probs: Tensor, threshold: float = 0.5) -> Tensor:
    """Fraction of the pixels flagged (``probs > threshold``), float64 scalar: for authentic images."""
    return (probs > threshold).sum().to(torch.float64) / max(probs.numel(), 1)


def _as_numpy(x: Tensor | np.ndarray | Sequence[float]) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x)


def safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` where ``den > 0``, NaN elsewhere (no warning)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _image_weights(n: int, weights: np.ndarray | None) -> np.ndarray:
    if weights is None:
        return np.ones((1, n))
    w = np.asarray(weights, dtype=np.float64)
    return w if w.ndim == 2 else w.reshape(1, n)


def _one_or_many(values: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """A float64 scalar for unweighted calls, the ``(B,)`` vector for weighted ones."""
    return np.float64(values[0]) if weights is None else values


def image_auc(
    scores: Tensor | np.ndarray | Sequence[float],
    labels: Tensor | np.ndarray | Sequence[float],
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Image-level ROC-AUC of ``(N,)`` scores against ``(N,)`` labels (1 edited); NaN without both labels.

    The one implementation (:func:`deal.metrics.localization.aggregate` calls it for the point value and the
    bootstrap alike). ``weights`` ``(B, N)``: how many times each image counts, one AUC per row (a ``(B,)``
    array); None: every image once (a float64 scalar). Rank-based on any real scores (torchmetrics'
    ``binary_auroc`` would apply a sigmoid to scores outside [0, 1]): the Mann-Whitney statistic, ties
    counting half, scikit-learn's ``roc_auc_score`` at unit weights. Written by hand because no library
    computes a weighted AUC for many weight vectors at once in O(B N) memory.
    """
    s = _as_numpy(scores).astype(np.float64).reshape(-1)
    positive = _as_numpy(labels).reshape(-1) > 0.5
    w = _image_weights(s.size, weights)
    values, group = np.unique(s, return_inverse=True)
    b, k = w.shape[0], values.size
    flat = (np.arange(b)[:, None] * k + group.reshape(1, -1)).ravel()  # (row, distinct score) bins

    def per_score(x: np.ndarray) -> np.ndarray:  # (B, K) weight at each distinct score
        return np.bincount(flat, weights=x.ravel(), minlength=b * k).reshape(b, k)

    pos, neg = per_score(w * positive), per_score(w * ~positive)
    below = np.cumsum(neg, axis=1) - neg  # negative weight strictly below each score
    num = (pos * (below + 0.5 * neg)).sum(axis=1)
    return _one_or_many(safe_div(num, pos.sum(axis=1) * neg.sum(axis=1)), weights)


def image_decisions(scores: Tensor | np.ndarray, low: float, high: float) -> tuple[Tensor, Tensor]:
    """(called edited, called authentic) bool vectors of the verdict rule, vectorized: the one comparison
    deal.metrics.image_score.is_edited (edited when score >= high, authentic when not score >= low,
    inconclusive in between). Tensors give tensors, arrays arrays."""
    scores = scores.reshape(-1)
    return is_edited(scores, high), ~is_edited(scores, low)


def image_balanced_accuracy(
    scores: Tensor | np.ndarray | Sequence[float],
    labels: Tensor | np.ndarray | Sequence[float],
    low: float = 0.5,
    high: float | None = None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Balanced accuracy of the verdict rule: mean of (edited images called edited) and (authentic images
    called authentic); an inconclusive verdict is not a correct one. high=None: one threshold (low).
    NaN without both labels. ``weights`` as in :func:`image_auc` (the one implementation, which
    :func:`deal.metrics.localization.aggregate` calls)."""
    high = low if high is None else high
    s = _as_numpy(scores).astype(np.float64).reshape(-1)
    edited = _as_numpy(labels).reshape(-1) > 0.5
    w = _image_weights(s.size, weights)
    called_edited, called_authentic = image_decisions(s, low, high)
    tpr = safe_div(w @ (edited & called_edited), w @ edited)
    tnr = safe_div(w @ (~edited & called_authentic), w @ ~edited)
    return _one_or_many((tpr + tnr) / 2, weights)


def counts_above(probs: Tensor, positive: Tensor, thresholds: Tensor) -> tuple[Tensor, Tensor]:
    """TP and FP of ``probs > t`` for each t of the increasing ``thresholds`` (K,), in O(N + K) memory:
    one bucketize and two histograms, never a K x N matrix. Returns int64 (K,) each."""
    p, pos = probs.reshape(-1).float(), positive.reshape(-1)
    t = thresholds.to(p.device, torch.float32)
    k = t.numel()
    # bucketize(right=False): number of thresholds strictly below p; p > t_j  <=>  j < that number.
    below = torch.bucketize(p, t, right=False)
    all_hist = torch.bincount(below, minlength=k + 1)
    pos_hist = torch.bincount(below[pos], minlength=k + 1)
    flagged = all_hist.flip(0).cumsum(0).flip(0)[1:]  # sum over buckets > j
    tp = pos_hist.flip(0).cumsum(0).flip(0)[1:]
    return tp, flagged - tp


def f1_at_thresholds(probs: Tensor, target: Tensor, thresholds: Tensor) -> Tensor:
    """Per-image F1 of ``probs > t`` for each t of ``thresholds`` (K,) -> float64 (K,); NaN when the GT is empty."""
    positive = binarize_target(target).reshape(-1)
    tp, fp = counts_above(probs, positive, thresholds)
    n_pos = int(positive.sum())
    if n_pos == 0:
        return torch.full((thresholds.numel(),), NAN, dtype=torch.float64)
    tp, fp = tp.to(torch.float64), fp.to(torch.float64)
    return 2 * tp / (tp + fp + n_pos)
