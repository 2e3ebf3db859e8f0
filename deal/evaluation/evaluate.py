"""Score prediction maps made by any tool against a dataset's ground truth (``deal evaluate``)."""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from deal.data.sample import Record
from deal.evaluation.ground_truth import read_ground_truth
from deal.evaluation.predictions import PredictionError, PredictionIndex, load_prediction
from deal.metrics import functional as MF
from deal.metrics.localization import LocalizationMetrics

DEFAULT_THRESHOLD = 0.5  # the pixel threshold of maps that come without deal detect records
# The image-level metrics that need authentic images; absent with maps for edited images only.
IMAGE_LEVEL_KEYS: tuple[str, ...] = ("image_auc", "image_bacc", "false_alarm_area")


def evaluate_predictions(
    pred_dir: str | Path,
    records: Sequence[Record],
    *,
    threshold: float | None = 0.5,
    inverted_max: bool = False,
    border_band: bool = False,
    num_thresholds: int | None = None,
    image_thresholds: tuple[float, float] | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """:class:`~deal.metrics.LocalizationMetrics` of the maps in ``pred_dir`` for ``records``.

    Every edited record needs a prediction (see :mod:`deal.evaluation.predictions` for names and
    formats, ``deal detect``'s outputs included) of exactly its ground truth's size. Authentic records
    need one each too, or none at all: with maps for the edited images only (the usual localization
    protocol) the localization metrics are computed over the edited images and the image-level ones
    (:data:`IMAGE_LEVEL_KEYS`) are NaN, with the reason under ``"not_available"``.

    Image scores: the files' own (TruFor/deal ``.npz`` ``score``, or the ``score`` of the ``deal detect``
    record of a heatmap PNG) when every prediction has one, else deal.metrics.image_score of each map.
    ``threshold`` None: the ``deal detect`` records' pixel threshold when every prediction has the same
    one, else :data:`DEFAULT_THRESHOLD`. ``image_thresholds`` (the verdict's (low, high), for
    ``image_bacc``) None: the records' likewise, else ``(threshold, threshold)``.

    Returns:
        The metric dict (keys :data:`deal.metrics.METRIC_KEYS`), plus ``"threshold"`` and
        ``"image_thresholds"`` (the ones used), ``"map_sources"`` (``{"deal detect npz": 32}``: how many
        maps of each kind) and, when image-level metrics are not available, ``"not_available"``:
        ``{key: reason}``.

    Raises:
        PredictionError: missing predictions (all names listed), an ambiguous or unreadable file, or
            a map whose size differs from the ground truth (naming both files).
        DatasetError: an unreadable image or mask.
    """
    records = list(records)
    index = PredictionIndex(pred_dir)
    located = [index.locate(r) for r in records]
    missing = [r for r, loc in zip(records, located) if loc is None]
    missing_edited = [r.name for r in missing if r.label == 1]
    n_authentic = sum(r.label == 0 for r in records)
    if missing_edited:
        n_edited = len(records) - n_authentic
        raise PredictionError(index.missing_message(missing_edited, n_edited, "edited images"))
    edited_only = bool(missing) and len(missing) == n_authentic
    if missing and not edited_only:
        raise PredictionError(
            index.missing_message([r.name for r in missing], len(records))
            + " (maps for all images, or for the edited images only, are accepted)"
        )
    pairs = [(r, loc) for r, loc in zip(records, located) if loc is not None]
    if threshold is None:
        given = {loc.threshold for _, loc in pairs}
        threshold = given.pop() if len(given) == 1 and None not in given else DEFAULT_THRESHOLD
    if image_thresholds is None:
        given = {loc.image_thresholds for _, loc in pairs}
        image_thresholds = given.pop() if len(given) == 1 and None not in given else (threshold, threshold)
    metric = LocalizationMetrics(
        threshold, inverted_max, border_band, num_thresholds=num_thresholds, image_thresholds=image_thresholds
    )
    labels, scores = [], []
    for record, loc in tqdm(pairs, desc=f"evaluate {Path(pred_dir).name}", disable=not progress, unit="img"):
        path = loc.path
        pred = load_prediction(path)
        gt = read_ground_truth(record)
        if pred.probs.shape != gt.shape:
            gt_file = record.mask if record.mask is not None else record.image
            raise PredictionError(
                f"prediction {path} is {pred.probs.shape[1]}x{pred.probs.shape[0]} (WxH) but the ground truth "
                f"{gt_file} is {gt.shape[1]}x{gt.shape[0]}"
            )
        # One image per update: maps may differ in size, and the metric keeps only sums.
        metric.update([torch.from_numpy(pred.probs)], [torch.from_numpy(gt)], torch.tensor([record.label]))
        labels.append(record.label)
        scores.append(pred.score if pred.score is not None else loc.score)
    result: dict[str, Any] = metric.compute()
    given_scores = [s for s in scores if s is not None]
    if given_scores and len(given_scores) == len(scores):  # the files' own image scores
        score_t, label_t = torch.tensor(given_scores, dtype=torch.float64), torch.tensor(labels)
        result["image_auc"] = float(MF.image_auc(score_t, label_t))
        result["image_bacc"] = float(MF.image_balanced_accuracy(score_t, label_t, *image_thresholds))
    elif given_scores:
        warnings.warn(
            f"only {len(given_scores)} of {len(scores)} predictions carry an image score; "
            "using image_score of the maps for all",
            stacklevel=2,
        )
    result["threshold"] = threshold
    result["image_thresholds"] = list(image_thresholds)
    result["map_sources"] = dict(Counter(loc.source for _, loc in pairs))
    if edited_only:
        reason = (
            f"maps for the edited images only: the {n_authentic} authentic images have none, "
            "so there is nothing to tell edited from authentic or to measure false alarms on"
        )
        result.update(dict.fromkeys(IMAGE_LEVEL_KEYS, math.nan))
        result["not_available"] = dict.fromkeys(IMAGE_LEVEL_KEYS, reason)
    return result
