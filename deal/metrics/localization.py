"""One torchmetrics ``Metric`` that reports every localization convention from one pass.

The per-image numbers come from :mod:`deal.metrics.functional`; this class keeps ONE row of numbers per
image (a ``dist_reduce_fx="cat"`` state, so DDP reduction is exact) and :func:`aggregate` turns rows into
the reported metrics. The same function, given bootstrap weights instead of ones, gives the intervals:
the point estimate and its interval cannot disagree on a definition.

What :meth:`LocalizationMetrics.compute` returns: the keys of :data:`deal.metrics.keys.METRIC_KEYS` (each
defined there, in one line), and with ``bootstrap > 0`` the ``<key>_lo``/``<key>_hi`` interval of each of
:data:`deal.metrics.keys.INTERVAL_KEYS`.

The objectness control: ``update(..., controls=[...])`` takes, for an edited image, the map of its unedited
original; it is scored against the SAME mask (pixel AUC, best F1), and the lift is edit minus control per
image. A detector that finds objects rather than edits scores high on both.

A per-image value that is undefined (NaN: an edited image whose GT is empty, or whose GT vanishes
under the border-band erosion) is left out of its mean; an edited image's all-zero prediction
scores F1 = 0. The image score is deal.metrics.image_score (mean of the top 1% of the map) unless ``scores`` is given.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from deal.metrics import functional as MF
from deal.metrics.convention import MetricConvention
from deal.metrics.image_score import image_score
from deal.metrics.keys import INTERVAL_KEYS, METRIC_KEYS, interval_keys

__all__ = ["METRIC_KEYS", "LocalizationMetrics", "aggregate", "bootstrap_intervals"]


@contextlib.contextmanager
def one_cpu_thread() -> Iterator[None]:
    """Runs the block with one intra-op CPU thread (many small tensor ops: threads only add barrier waits)."""
    n = torch.get_num_threads()
    if n == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


# The columns of one image's row (float64; NaN where undefined).
COLUMNS: tuple[str, ...] = (
    "label",  # 1 edited, 0 authentic
    "score",  # image score
    "f1_half",  # F1 at p > 0.5 (pixel_f1)
    "f1",  # F1 at p > threshold (pixel_f1_calibrated)
    "f1_best",
    "iou",
    "mcc",
    "auc",
    "auc_control",  # of the original's map against the same mask
    "f1_best_control",
    "has_control",  # 1 when an edited image's original was scored
    "false_alarm",  # authentic images: flagged fraction
    "tp",  # counts at threshold, for the pooled (dataset) F1
    "fp",
    "fn",
)
_C = {name: i for i, name in enumerate(COLUMNS)}

# key -> the column averaged over edited images (lifts: the difference of two columns, per image).
_EDITED_MEANS: dict[str, str | tuple[str, str]] = {
    "pixel_f1": "f1_half",
    "pixel_f1_calibrated": "f1",
    "pixel_f1_best": "f1_best",
    "pixel_iou": "iou",
    "pixel_mcc": "mcc",
    "pixel_auc": "auc",
    "pixel_auc_control": "auc_control",
    "pixel_auc_lift": ("auc", "auc_control"),
    "pixel_f1_best_control": "f1_best_control",
    "pixel_f1_best_lift": ("f1_best", "f1_best_control"),
}


def aggregate(rows: np.ndarray, image_thresholds: tuple[float, float], weights: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The metrics (:data:`METRIC_KEYS`) of per-image ``rows`` (N, len(COLUMNS)), each as a ``(B,)`` array: one
    value per row of ``weights`` (B, N), how many times each image counts (None: every image once, B = 1).

    The one definition of every reported number: :meth:`LocalizationMetrics.compute` calls it with ones, the
    bootstrap with resampling counts.
    """
    n = rows.shape[0]
    w = np.ones((1, n)) if weights is None else np.asarray(weights, dtype=np.float64)
    col = {name: rows[:, i] for name, i in _C.items()}
    edited = col["label"] == 1
    authentic = ~edited
    out: dict[str, np.ndarray] = {}

    def mean_over(values: np.ndarray, keep: np.ndarray) -> np.ndarray:
        keep = keep & ~np.isnan(values)
        return MF.safe_div(w @ np.where(keep, values, 0.0), w @ keep.astype(np.float64))

    for key, source in _EDITED_MEANS.items():
        values = col[source] if isinstance(source, str) else col[source[0]] - col[source[1]]
        out[key] = mean_over(values, edited)
    tp, fp, fn = (w @ col[k] for k in ("tp", "fp", "fn"))
    out["pixel_f1_dataset"] = MF.safe_div(2 * tp, (2 * tp + fp + fn) * ((tp + fn) > 0))
    low, high = image_thresholds
    called_edited, called_authentic = MF.image_decisions(col["score"], low, high)
    inconclusive = ~called_edited & ~called_authentic
    out["image_auc"] = MF.image_auc(col["score"], edited, w)
    out["image_bacc"] = MF.image_balanced_accuracy(col["score"], edited, low, high, w)
    out["image_inconclusive"] = MF.safe_div(w @ inconclusive, w.sum(axis=1))
    out["false_alarm_area"] = mean_over(col["false_alarm"], authentic)
    out["n_edited"] = w @ edited
    out["n_authentic"] = w @ authentic
    out["n_control"] = w @ (edited & (col["has_control"] == 1))
    out["verdict_edited"] = w @ called_edited
    out["verdict_inconclusive"] = w @ inconclusive
    out["verdict_authentic"] = w @ called_authentic
    return {key: out[key] for key in METRIC_KEYS}


def bootstrap_weights(n: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """Resampling counts ``(b, n)`` (images drawn with replacement, ``n`` per resample), in blocks that keep
    memory bounded; seeded: the same ``n`` and ``seed`` give the same resamples."""
    rng = np.random.default_rng(seed)
    block = max(1, min(resamples, 2_000_000 // max(n, 1)))
    done = 0
    while done < resamples:
        b = min(block, resamples - done)
        idx = rng.integers(0, n, size=(b, n)) + (np.arange(b) * n)[:, None]
        yield np.bincount(idx.ravel(), minlength=b * n).reshape(b, n).astype(np.float64)
        done += b


def bootstrap_intervals(
    rows: np.ndarray, convention: MetricConvention, keys: Sequence[str] = INTERVAL_KEYS
) -> dict[str, float]:
    """``{<key>_lo, <key>_hi}``: the percentile bootstrap interval of each key over images (resamples where
    the metric is undefined left out; NaN when it is undefined on all)."""
    if rows.shape[0] == 0 or convention.bootstrap == 0:
        return {k: math.nan for key in keys for k in interval_keys(key)}
    parts = [
        aggregate(rows, convention.image_thresholds, w)
        for w in bootstrap_weights(rows.shape[0], convention.bootstrap, convention.seed)
    ]
    tail = (1 - convention.confidence) / 2 * 100
    out: dict[str, float] = {}
    for key in keys:
        values = np.concatenate([p[key] for p in parts])
        values = values[~np.isnan(values)]
        lo_key, hi_key = interval_keys(key)
        if values.size == 0:
            out[lo_key] = out[hi_key] = math.nan
        else:
            lo, hi = np.percentile(values, [tail, 100 - tail])
            out[lo_key], out[hi_key] = float(lo), float(hi)
    return out


def _as_maps(x: Tensor | np.ndarray | Sequence[Tensor | np.ndarray], name: str) -> list[Tensor]:
    """``(B,H,W)``, ``(B,1,H,W)``, ``(H,W)`` or a list of ``(H,W)``/``(1,H,W)`` as a list of ``HxW`` tensors."""
    if isinstance(x, (Tensor, np.ndarray)):
        t = torch.as_tensor(x)
        if t.ndim == 4 and t.shape[1] == 1:
            t = t[:, 0]
        if t.ndim == 2:
            return [t]
        if t.ndim != 3:
            raise ValueError(
                f"{name} must be (B,H,W), (B,1,H,W) or a list of HxW maps, got shape {tuple(t.shape)}"
            )
        return list(t.unbind(0))
    maps = []
    for i, item in enumerate(x):
        t = torch.as_tensor(item)
        if t.ndim == 3 and t.shape[0] == 1:
            t = t[0]
        if t.ndim != 2:
            raise ValueError(f"{name}[{i}] must be an HxW map, got shape {tuple(t.shape)}")
        maps.append(t)
    return maps


def _as_vector(x: Tensor | np.ndarray | Sequence[float] | None, n: int, name: str) -> list[float] | None:
    if x is None:
        return None
    values = torch.as_tensor(x).reshape(-1).tolist()
    if len(values) != n:
        raise ValueError(f"{name} has {len(values)} entries for {n} images")
    return [float(v) for v in values]


class LocalizationMetrics(Metric):
    """Pixel localization + image detection metrics over a stream of images (see module docstring).

    Args:
        threshold, inverted_max, border_band, num_thresholds, image_thresholds: the fields of a
            :class:`~deal.metrics.convention.MetricConvention` (without bootstrap intervals), for short
            calls; ignored when ``convention`` is given.
        convention: the whole metric convention (what the CLI and evaluation pass).
        kwargs: torchmetrics ``Metric`` options (``sync_on_compute``, ``process_group``, ...).
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(
        self,
        threshold: float = 0.5,
        inverted_max: bool = False,
        border_band: bool = False,
        *,
        num_thresholds: int | None = None,
        image_thresholds: tuple[float, float] | None = None,
        convention: MetricConvention | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if convention is None:
            convention = MetricConvention(
                threshold, inverted_max, border_band, num_thresholds, image_thresholds, bootstrap=0
            )
        self.metric_convention = convention
        self.add_state("rows", default=[], dist_reduce_fx="cat")

    # the convention's fields, read by callers
    threshold = property(lambda self: self.metric_convention.threshold)
    inverted_max = property(lambda self: self.metric_convention.inverted_max)
    border_band = property(lambda self: self.metric_convention.border_band)
    num_thresholds = property(lambda self: self.metric_convention.num_thresholds)
    image_thresholds = property(lambda self: self.metric_convention.image_thresholds)

    @property
    def convention(self) -> str:
        """The one-line description of this instance's settings."""
        return self.metric_convention.describe()

    @property
    def settings(self) -> dict[str, Any]:
        """The convention's settings, for JSON reports."""
        return self.metric_convention.to_dict()

    def update(
        self,
        probs: Tensor | Sequence[Tensor],
        targets: Tensor | Sequence[Tensor],
        labels: Tensor | Sequence[int] | None = None,
        scores: Tensor | Sequence[float] | None = None,
        controls: Sequence[Tensor | np.ndarray | None] | None = None,
    ) -> None:
        """Add a batch of images.

        Args:
            probs: ``(B,H,W)`` (or ``(B,1,H,W)``) float probabilities in [0, 1], or a list of ``HxW``
                maps of different sizes.
            targets: GT masks (1 = edited) of the same shapes.
            labels: ``(B,)`` 1 edited / 0 authentic; default: 1 where the GT has an edited pixel.
                A label-0 image whose GT has edited pixels is an error.
            scores: ``(B,)`` image scores for ``image_auc``/``image_bacc``; default: image_score of each map.
            controls: the objectness control: per image, the map of the edited image's unedited original
                (same shape, scored against the same target), or None where there is none; None for all.
        """
        # Per-image metrics are many small tensor ops; on the CPU, intra-op threads only add barrier waits
        # (measured under load on 2 cores: 0.43 s per 256x256 image with 2 threads, 0.024 s with 1).
        with one_cpu_thread():
            self._update(probs, targets, labels, scores, controls)

    def _update(
        self,
        probs: Tensor | Sequence[Tensor],
        targets: Tensor | Sequence[Tensor],
        labels: Tensor | Sequence[int] | None,
        scores: Tensor | Sequence[float] | None,
        controls: Sequence[Tensor | np.ndarray | None] | None,
    ) -> None:
        c = self.metric_convention
        maps = _as_maps(probs, "probs")
        gts = _as_maps(targets, "targets")
        if len(maps) != len(gts):
            raise ValueError(f"{len(maps)} probability maps but {len(gts)} targets")
        label_list = _as_vector(labels, len(maps), "labels")
        score_list = _as_vector(scores, len(maps), "scores")
        control_list = [None] * len(maps) if controls is None else list(controls)
        if len(control_list) != len(maps):
            raise ValueError(f"{len(control_list)} control maps for {len(maps)} images")
        rows = []
        for i, (p, t, ctrl) in enumerate(zip(maps, gts, control_list)):
            p = _check_probs(p, t.shape, f"probs[{i}]", f"targets[{i}]")
            gt = MF.binarize_target(t)
            label = int(gt.any()) if label_list is None else int(label_list[i] > 0.5)
            row = dict.fromkeys(COLUMNS, math.nan)
            row["label"] = label
            positive, valid = MF.positive_and_valid(gt, c.border_band)
            counts = MF.confusion_counts(p, positive, c.threshold, valid)
            row["tp"], row["fp"], row["fn"] = (float(v) for v in counts[:3])
            row["has_control"] = 0.0
            if label == 1:
                oriented = MF.oriented_counts(counts, c.inverted_max)
                half = counts if c.threshold == 0.5 else MF.confusion_counts(p, positive, 0.5, valid)
                tps, fps = MF.curve_counts(p, positive, valid, c.num_thresholds)
                row["f1_half"] = float(MF.f1_from_counts(MF.oriented_counts(half, c.inverted_max)))
                row["f1"] = float(MF.f1_from_counts(oriented))
                row["iou"] = float(MF.iou_from_counts(oriented))
                row["mcc"] = float(MF.mcc_from_counts(oriented))
                row["f1_best"] = float(MF.best_f1_from_curve(tps, fps, c.inverted_max))
                row["auc"] = float(MF.auc_from_curve(tps, fps))
                if ctrl is not None:
                    ctrl = _check_probs(torch.as_tensor(ctrl), t.shape, f"controls[{i}]", f"targets[{i}]")
                    row.update(_paired_control(ctrl, positive, valid, row["auc"], c))
            else:
                if bool(gt.any()):
                    raise ValueError(
                        f"labels[{i}] is 0 (authentic) but targets[{i}] has {int(gt.sum())} edited pixels"
                    )
                if ctrl is not None:
                    raise ValueError(f"controls[{i}] is given for an authentic image (label 0)")
                row["false_alarm"] = float(MF.false_alarm_area(p, c.threshold))
            row["score"] = image_score(p) if score_list is None else score_list[i]
            rows.append([row[k] for k in COLUMNS])
        if rows:
            self.rows.append(torch.tensor(rows, dtype=torch.float64, device=self.device))

    def per_image(self) -> np.ndarray:
        """The rows of all images seen, ``(N, len(COLUMNS))`` float64 (columns :data:`COLUMNS`)."""
        if isinstance(self.rows, list) and not self.rows:
            return np.zeros((0, len(COLUMNS)))
        rows = dim_zero_cat(self.rows) if isinstance(self.rows, list) else self.rows
        return rows.detach().cpu().numpy().reshape(-1, len(COLUMNS))

    def compute(self) -> dict[str, float]:
        """The metrics of all images seen (keys :data:`METRIC_KEYS`, then the ``<key>_lo``/``<key>_hi`` of
        :data:`INTERVAL_KEYS` when the convention asks for bootstrap intervals; NaN where undefined)."""
        rows = self.per_image()
        point = aggregate(rows, self.image_thresholds)
        out: dict[str, Any] = {}
        for key in METRIC_KEYS:
            value = float(point[key][0])
            out[key] = int(value) if key.startswith(("n_", "verdict_")) else value
        if self.metric_convention.bootstrap:
            out.update(bootstrap_intervals(rows, self.metric_convention))
        return out


def _paired_control(
    ctrl: Tensor, positive: Tensor, valid: Tensor | None, auc: float, c: MetricConvention
) -> dict[str, float]:
    """The control columns of an edited image whose original's map is ``ctrl``: scored against the same mask.
    The image is paired (``has_control`` 1) only where the pixel AUC of the edit, hence of the control, is
    defined (the mask has edited and unedited pixels that count); an unpaired image's control columns stay
    NaN, so that every control key and lift averages over the same paired images, counted by n_control."""
    if math.isnan(auc):
        return {}
    tps, fps = MF.curve_counts(ctrl, positive, valid, c.num_thresholds)
    return {
        "auc_control": float(MF.auc_from_curve(tps, fps)),
        "f1_best_control": float(MF.best_f1_from_curve(tps, fps, c.inverted_max)),
        "has_control": 1.0,
    }


def _check_probs(p: Tensor, shape: torch.Size, name: str, target: str = "its target") -> Tensor:
    if p.shape != shape:
        raise ValueError(f"{name} is {tuple(p.shape)} but {target} is {tuple(shape)}")
    if not p.is_floating_point():
        raise ValueError(f"{name} must be a float map in [0, 1], got dtype {p.dtype}")
    if p.dtype not in (torch.float32, torch.float64):
        p = p.float()
    if not bool(((p >= 0) & (p <= 1)).all()):
        raise ValueError(f"{name} has values outside [0, 1] (or NaN)")
    return p
