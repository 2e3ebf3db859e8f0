"""Score prediction maps made by any tool against a dataset's ground truth (``deal evaluate``)."""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from deal.data.sample import Record
from deal.evaluation.ground_truth import read_ground_truth
from deal.evaluation.predictions import Located, PredictionError, PredictionIndex, load_prediction
from deal.metrics.convention import DEFAULT_CONVENTION, MetricConvention
from deal.metrics.keys import interval_keys
from deal.metrics.localization import COLUMNS, LocalizationMetrics
from deal.modeling.input_policy import resize_map

DEFAULT_THRESHOLD = 0.5  # the pixel threshold of maps that come without deal detect records
# The image-level metrics that need authentic images; absent with maps for edited images only.
IMAGE_LEVEL_KEYS: tuple[str, ...] = ("image_auc", "image_bacc", "false_alarm_area")


def evaluate_predictions(
    pred_dir: str | Path,
    records: Sequence[Record],
    convention: MetricConvention = DEFAULT_CONVENTION,
    *,
    threshold_from_records: bool = False,
    progress: bool = False,
) -> dict[str, Any]:
    """:class:`~deal.metrics.LocalizationMetrics` of the maps in ``pred_dir`` for ``records`` under ``convention``.

    Every edited record needs a prediction (see :mod:`deal.evaluation.predictions` for names and
    formats, ``deal detect``'s outputs included) of exactly its ground truth's size. Authentic records
    need one each too, or none at all: with maps for the edited images only (the usual localization
    protocol) the localization metrics are computed over the edited images and the image-level ones
    (:data:`IMAGE_LEVEL_KEYS`) are NaN, with the reason under ``"not_available"``.

    Objectness control: an edited record with an ``original`` whose map is in ``pred_dir`` (found as the
    original image's own prediction, e.g. deal detect run on the originals too) has that map scored against
    its mask (``pixel_auc_control``, ...; ``n_control`` counts them); a map of another size than the mask is
    resized bilinearly to it, as deal benchmark does.

    Image scores: the files' own (TruFor/deal ``.npz`` ``score``, or the ``score`` of the ``deal detect``
    record of a heatmap PNG) when every prediction has one, else deal.metrics.image_score of each map.
    ``threshold_from_records``: the pixel threshold is the ``deal detect`` records' when every prediction has
    the same one (the convention's otherwise). The verdict's image thresholds (for ``image_bacc``) are the
    records' likewise, else ``(threshold, threshold)``.

    Returns:
        The metric dict (keys :data:`deal.metrics.METRIC_KEYS` and their intervals), plus ``"threshold"`` and
        ``"image_thresholds"`` (the ones used), ``"convention"`` (its settings), ``"map_sources"``
        (``{"deal detect npz": 32}``: how many maps of each kind) and, when image-level metrics are not
        available, ``"not_available"``: ``{key: reason}``.

    Raises:
        PredictionError: missing predictions (all names listed), an ambiguous or unreadable file, or
            a map whose size differs from the ground truth (naming both files).
        DatasetError: an unreadable image or mask.
    """
    records = list(records)
    index = PredictionIndex(pred_dir)
    pairs, edited_only = _locate_maps(index, records)
    convention = _record_thresholds(convention, pairs, threshold_from_records)
    metric = LocalizationMetrics(convention=convention)
    desc = f"evaluate {Path(pred_dir).name}"
    scores = [_score_one(metric, index, record, loc) for record, loc in tqdm(pairs, desc=desc, disable=not progress, unit="img")]
    metric = _with_file_scores(metric, scores)
    result: dict[str, Any] = metric.compute()
    result["threshold"] = convention.threshold
    result["image_thresholds"] = list(convention.image_thresholds)
    result["convention"] = convention.to_dict()
    result["map_sources"] = dict(Counter(loc.source for _, loc in pairs))
    if edited_only:
        _mark_image_level_unavailable(result, sum(r.label == 0 for r in records))
    return result


def _locate_maps(index: PredictionIndex, records: list[Record]) -> tuple[list[tuple[Record, Located]], bool]:
    """``(record, where its map is)`` of every record that has one, and whether only the edited ones do.

    Raises:
        PredictionError: an edited record without a map, or some authentic records without one (all names).
    """
    located = [index.locate(r) for r in records]
    missing = [r for r, loc in zip(records, located) if loc is None]
    missing_edited = [r.name for r in missing if r.label == 1]
    n_authentic = sum(r.label == 0 for r in records)
    if missing_edited:
        raise PredictionError(index.missing_message(missing_edited, len(records) - n_authentic, "edited images"))
    edited_only = bool(missing) and len(missing) == n_authentic
    if missing and not edited_only:
        raise PredictionError(
            index.missing_message([r.name for r in missing], len(records))
            + " (maps for all images, or for the edited images only, are accepted)"
        )
    return [(r, loc) for r, loc in zip(records, located) if loc is not None], edited_only


def _record_thresholds(
    convention: MetricConvention, pairs: list[tuple[Record, Located]], threshold_from_records: bool
) -> MetricConvention:
    """``convention`` with deal detect's pixel threshold (when asked) and image thresholds where every map's
    record gives the same ones."""
    threshold = convention.threshold
    if threshold_from_records:
        given = {loc.threshold for _, loc in pairs}
        threshold = given.pop() if len(given) == 1 and None not in given else DEFAULT_THRESHOLD
    given_pairs = {loc.image_thresholds for _, loc in pairs}
    image_thresholds = given_pairs.pop() if len(given_pairs) == 1 and None not in given_pairs else None
    return convention.replace(threshold=threshold, image_thresholds=image_thresholds)


def _score_one(metric: LocalizationMetrics, index: PredictionIndex, record: Record, loc: Located) -> float | None:
    """Add one record's map (and its control) to ``metric``; return the image score its file gives, if any."""
    pred = load_prediction(loc.path)
    gt = read_ground_truth(record)
    if pred.probs.shape != gt.shape:
        gt_file = record.mask if record.mask is not None else record.image
        raise PredictionError(
            f"prediction {loc.path} is {pred.probs.shape[1]}x{pred.probs.shape[0]} (WxH) but the ground truth "
            f"{gt_file} is {gt.shape[1]}x{gt.shape[0]}"
        )
    control = _control_map(index, record, gt.shape)
    # One image per update: maps may differ in size, and the metric keeps only per-image rows.
    metric.update(
        [torch.from_numpy(pred.probs)],
        [torch.from_numpy(gt)],
        torch.tensor([record.label]),
        controls=[None if control is None else torch.from_numpy(control)],
    )
    return pred.score if pred.score is not None else loc.score


def _with_file_scores(metric: LocalizationMetrics, scores: list[float | None]) -> LocalizationMetrics:
    """The files' own image scores in place of the maps' when every file gives one (a warning when only some
    do: the maps' scores are used for all)."""
    given = [s for s in scores if s is not None]
    if given and len(given) == len(scores):
        return _with_scores(metric, given)
    if given:
        warnings.warn(
            f"only {len(given)} of {len(scores)} predictions carry an image score; using image_score of the maps for all",
            stacklevel=3,
        )
    return metric


def _mark_image_level_unavailable(result: dict[str, Any], n_authentic: int) -> None:
    """NaN for the image-level keys (and their intervals), with the reason under ``not_available``."""
    reason = (
        f"maps for the edited images only: the {n_authentic} authentic images have none, "
        "so there is nothing to tell edited from authentic or to measure false alarms on"
    )
    for key in IMAGE_LEVEL_KEYS:
        result.update({k: math.nan for k in (key, *interval_keys(key)) if k in result})
    result["not_available"] = dict.fromkeys(IMAGE_LEVEL_KEYS, reason)


def _control_map(index: PredictionIndex, record: Record, hw: tuple[int, int]) -> np.ndarray | None:
    """The map of an edited record's original in the prediction folder (resized to ``hw``), or None."""
    if record.label != 1 or not record.original:
        return None
    original = Record(image=record.original, mask=None, label=0, name=Path(record.original).stem)
    loc = index.locate(original)
    if loc is None:
        return None
    return resize_map(torch.from_numpy(load_prediction(loc.path).probs), hw).numpy()


def _with_scores(metric: LocalizationMetrics, scores: list[float]) -> LocalizationMetrics:
    """``metric`` with the files' own image scores in place of the maps' (same images, same order)."""
    rows = torch.from_numpy(metric.per_image().copy())
    rows[:, COLUMNS.index("score")] = torch.tensor(scores, dtype=torch.float64)
    metric.rows = [rows]
    return metric
