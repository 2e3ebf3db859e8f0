"""Score prediction maps made by any tool against a dataset's ground truth (``deal evaluate``)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
from tqdm import tqdm

from deal.data.sample import Record
from deal.evaluation.ground_truth import read_ground_truth
from deal.evaluation.predictions import PredictionError, PredictionIndex, load_prediction
from deal.metrics import functional as MF
from deal.metrics.localization import LocalizationMetrics


def evaluate_predictions(
    pred_dir: str | Path,
    records: Sequence[Record],
    *,
    threshold: float = 0.5,
    inverted_max: bool = False,
    border_band: bool = False,
    num_thresholds: int | None = None,
    progress: bool = False,
) -> dict[str, float]:
    """:class:`~deal.metrics.LocalizationMetrics` of the maps in ``pred_dir`` for ``records``.

    Every record needs a prediction (see :mod:`deal.evaluation.predictions` for names and formats)
    of exactly its ground truth's size. Image scores: the files' ``score`` when every file has one
    (TruFor ``.npz``), else the maximum of each map for all images.

    Returns:
        The metric dict (keys :data:`deal.metrics.METRIC_KEYS`).

    Raises:
        PredictionError: missing predictions (all names listed), an ambiguous or unreadable file, or
            a map whose size differs from the ground truth (naming both files).
        DatasetError: an unreadable image or mask.
    """
    records = list(records)
    paths = PredictionIndex(pred_dir).resolve(records)
    metric = LocalizationMetrics(threshold, inverted_max, border_band, num_thresholds=num_thresholds)
    labels, scores = [], []
    for record, path in tqdm(
        list(zip(records, paths)), desc=f"evaluate {Path(pred_dir).name}", disable=not progress, unit="img"
    ):
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
        scores.append(pred.score)
    result = metric.compute()
    given = [s for s in scores if s is not None]
    if given and len(given) == len(scores):  # the files' own image scores replace image_score of the maps
        score_t, label_t = torch.tensor(given, dtype=torch.float64), torch.tensor(labels)
        result["image_auc"] = float(MF.image_auc(score_t, label_t))
        result["image_bacc"] = float(MF.image_balanced_accuracy(score_t, label_t, *metric.image_thresholds))
    elif given:
        warnings.warn(
            f"only {len(given)} of {len(scores)} predictions carry an image score; using image_score of the maps for all",
            stacklevel=2,
        )
    return result
