"""Every metric key deal reports, with its one-line definition: the one source that benchmark.md's header,
``deal evaluate``, ``--help`` and the docs page (docs/metrics.md) render.

Imports nothing heavy (no torch), so the CLI's help and the docs build can read it.
"""

from __future__ import annotations

from collections.abc import Iterable

# key -> definition. "threshold" is the convention's pixel threshold (deal.metrics.convention): a detector's
# calibrated one in deal benchmark, deal detect's (from its records) in deal evaluate, 0.5 for other maps.
METRIC_KEYS: dict[str, str] = {
    "pixel_f1": "F1 of p > 0.5 per image, mean over edited images (the papers' convention)",
    "pixel_f1_calibrated": "F1 of p > threshold per image, mean over edited images (equals pixel_f1 at threshold 0.5)",
    "pixel_f1_best": "best F1 over all thresholds per image, mean over edited images",
    "pixel_f1_dataset": "F1 of p > threshold with TP/FP/FN pooled over all pixels of all images, edited and authentic",
    "pixel_iou": "IoU of p > threshold per image, mean over edited images",
    "pixel_mcc": "Matthews correlation of p > threshold per image (0 when undefined), mean over edited images",
    "pixel_auc": "pixel ROC-AUC per image, mean over edited images",
    "pixel_auc_control": "pixel AUC of the map of the edited image's unedited original against the same mask, "
    "mean over the paired images (n_control; an object detector scores high here too)",
    "pixel_auc_lift": "pixel AUC of the edit minus pixel_auc_control, per paired image, mean over the paired "
    "images (what the map says about the edit itself); equals pixel_auc minus pixel_auc_control only when every "
    "edited image is paired",
    "pixel_f1_best_control": "best F1 of the original's map against the same mask, mean over the paired images",
    "pixel_f1_best_lift": "best F1 of the edit minus pixel_f1_best_control, per paired image, mean over the "
    "paired images",
    "image_auc": "ROC-AUC of the image score over edited and authentic images; NaN unless both occur",
    "image_bacc": "balanced accuracy of the verdict (edited: score >= high; authentic: score < low; inconclusive "
    "counts as wrong) over edited and authentic images",
    "image_inconclusive": "fraction of images whose verdict is inconclusive (low <= score < high)",
    "false_alarm_area": "fraction of pixels with p > threshold on an authentic image, mean over authentic images",
    "n_edited": "images with label 1 (edited)",
    "n_authentic": "images with label 0 (authentic)",
    "n_control": "paired images: edited images whose unedited original was scored for the control and whose "
    "pixel AUC is defined (the images every control key and lift averages over)",
    "verdict_edited": "images (edited and authentic) whose verdict is edited",
    "verdict_inconclusive": "images (edited and authentic) whose verdict is inconclusive",
    "verdict_authentic": "images (edited and authentic) whose verdict is authentic",
}

# The keys that carry a bootstrap interval, as <key>_lo and <key>_hi (percentile interval over images).
INTERVAL_KEYS: tuple[str, ...] = (
    "pixel_f1",
    "pixel_f1_calibrated",
    "pixel_f1_best",
    "pixel_iou",
    "pixel_mcc",
    "pixel_auc",
    "pixel_auc_control",
    "pixel_auc_lift",
    "pixel_f1_best_control",
    "pixel_f1_best_lift",
    "image_auc",
    "image_bacc",
    "false_alarm_area",
)

# The objectness control's keys (defined only where some edited image had its original scored: n_control > 0).
CONTROL_KEYS: tuple[str, ...] = ("pixel_auc_control", "pixel_auc_lift", "pixel_f1_best_control", "pixel_f1_best_lift")

INTERVAL_DEFINITION = (
    "<key>_lo, <key>_hi: seeded percentile bootstrap interval of <key> over images (images resampled with "
    "replacement, the metric recomputed on each resample; resamples where it is undefined are left out)"
)

CONTROL_SENTENCE = (
    "Objectness control: where a dataset has the unedited originals, the detector's map of each original is "
    "scored against the edited image's own mask (pixel_auc_control, pixel_f1_best_control), and the lift "
    "(edit minus control, per image) is what the map says about the edit rather than about the object"
)

# Short column titles for tables; keys not listed are shown as they are.
COLUMN_TITLES: dict[str, str] = {
    "pixel_f1": "F1@0.5",
    "pixel_f1_calibrated": "F1@T",
    "pixel_f1_best": "F1 best",
    "pixel_f1_dataset": "F1 dataset",
    "pixel_iou": "IoU",
    "pixel_mcc": "MCC",
    "pixel_auc": "pixel AUC",
    "pixel_auc_control": "AUC control",
    "pixel_auc_lift": "AUC lift",
    "pixel_f1_best_control": "F1 best control",
    "pixel_f1_best_lift": "F1 best lift",
    "image_auc": "image AUC",
    "image_bacc": "image bAcc",
    "image_inconclusive": "inconclusive",
    "false_alarm_area": "false alarm",
    "n_edited": "edited",
    "n_authentic": "authentic",
    "n_control": "paired",
    "verdict_edited": "called edited",
    "verdict_inconclusive": "called inconclusive",
    "verdict_authentic": "called authentic",
    "images_per_s": "img/s",
}


def interval_keys(key: str) -> tuple[str, str]:
    """The ``(<key>_lo, <key>_hi)`` keys of ``key``'s bootstrap interval."""
    return f"{key}_lo", f"{key}_hi"


def metric_table(keys: Iterable[str] | None = None) -> str:
    """A Markdown table of ``keys`` (default: all) with their column title and definition."""
    keys = list(METRIC_KEYS if keys is None else keys)
    lines = ["| key | column | definition |", "|---|---|---|"]
    lines += [f"| `{k}` | {COLUMN_TITLES.get(k, k)} | {METRIC_KEYS[k]} |" for k in keys]
    return "\n".join(lines)


def metric_definitions(keys: Iterable[str]) -> str:
    """``title: definition`` of each key, joined by "; " (for a report header)."""
    return "; ".join(f"{COLUMN_TITLES.get(k, k)}: {METRIC_KEYS[k]}" for k in keys if k in METRIC_KEYS)


if __name__ == "__main__":  # python -m deal.metrics.keys: the table docs/metrics.md carries
    print(metric_table())
    print()
    print(INTERVAL_DEFINITION + ".")
