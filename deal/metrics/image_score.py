"""The image-level score and the verdict rule: defined here once, used by Detection, the metrics, training
logs, calibration, benchmark, detect's records and the HTML report."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # only the type: the metrics do not import the model at run time
    from deal.modeling.detector_file import DetectorInfo

# The image-level score is the mean of the top TOP_FRACTION of heatmap pixels (at least one pixel).
TOP_FRACTION = 0.01

SCORE_RULE = (
    "score is the image-level score in [0, 1]: the mean of the top 1% of the heatmap's pixel probabilities"
)
VERDICTS = ("edited", "inconclusive", "authentic")
# The rule in words, for --help, the README, the HTML report and the API docs.
VERDICT_RULE = (
    "verdict is edited when score >= image_threshold_high, authentic when score < image_threshold_low, "
    "inconclusive in between; the mask marks pixels with probability > threshold"
)


def image_score(heatmap: Any, top_fraction: float = TOP_FRACTION) -> float:
    """Image-level probability (HxW numpy array or torch tensor) of an edit: the mean of the highest `top_fraction` of the heatmap's pixels.

    The mean of the top 1% is robust to a few hot pixels (unlike the maximum) and still fires on an edit
    covering only 1% of the image (unlike the mean). For a 512x512 image it is the mean of the top 2,622
    pixels; for an image under 100 pixels, the maximum.
    """
    if hasattr(heatmap, "detach"):  # a torch tensor (torch is not imported here: the CLI's help stays fast)
        heatmap = heatmap.detach().float().cpu().numpy()
    flat = np.asarray(heatmap).reshape(-1)
    k = max(1, math.ceil(top_fraction * flat.size))
    top = np.partition(flat, flat.size - k)[flat.size - k :]
    return float(top.mean(dtype=np.float64))


def check_image_thresholds(low: float, high: float) -> tuple[float, float]:
    """(low, high) as floats, or ValueError unless 0 <= low <= high <= 1."""
    low, high = float(low), float(high)
    if not 0.0 <= low <= high <= 1.0:
        raise ValueError(f"image thresholds must satisfy 0 <= low <= high <= 1, got low={low}, high={high}")
    return low, high


def is_edited(score: Any, high: float) -> Any:
    """The one comparison of an image score with a threshold: score >= threshold. A float gives a bool; a
    numpy array or torch tensor of scores gives a bool array (deal.metrics.functional.image_decisions)."""
    return score >= high


def verdict(score: float, low: float, high: float) -> str:
    """"edited" (score >= high), "authentic" (score < low) or "inconclusive" (in between). See VERDICT_RULE.

    A score that is not a finite number (NaN, inf: a heatmap the detector got wrong) has no verdict:
    ValueError, never "authentic" (NaN compares false with every threshold)."""
    if not math.isfinite(score):
        raise ValueError(f"the image score is {score}, not a finite number: it has no verdict")
    if is_edited(score, high):
        return "edited"
    return "inconclusive" if is_edited(score, low) else "authentic"


def verdict_limitation(
    low: float, high: float, precision: float | None = None, precision_reached: bool | None = None
) -> str | None:
    """One sentence saying which verdict a detector can never give, or None when it can give all three.

    ``low == 0``: no score is below it, so the verdict is never authentic. ``high >= 1`` unless
    ``precision_reached`` is True (the calibration found no score at which edited images reached the stated
    ``precision``): the verdict is edited only for a map at 1 on its top 1%. deal detect (stderr), the report's
    legend and deal export all print this sentence.
    """
    never_authentic = low <= 0.0
    # high = 1 is where calibration leaves it when edited images never reached the precision; thresholds
    # given by hand (high < 1) say what they say.
    never_edited = high >= 1.0 and precision_reached is not True
    stated = f" of {precision:g}" if precision is not None else ""
    if never_authentic and never_edited:
        return (
            f"This detector's calibration reached the stated precision{stated} for neither verdict "
            f"(image_threshold_low = {low:g}, image_threshold_high = {high:g}): it can never say authentic, "
            "and says edited only for a map at its maximum, so nearly every image is inconclusive."
        )
    if never_authentic:
        return (
            "This detector can never say authentic (image_threshold_low = 0: no image score was low enough to "
            f"call an image authentic at the stated precision{stated}), so an unedited image is inconclusive "
            "at best."
        )
    if never_edited:
        return (
            f"This detector's calibration missed the stated precision{stated} for edited "
            f"(image_threshold_high = {high:g}), so it says edited only for a map at its maximum and an edited "
            "image is inconclusive at best."
        )
    return None


def detector_verdict_limitation(image_thresholds: tuple[float, float], info: DetectorInfo | None) -> str | None:
    """:func:`verdict_limitation` of a detector: its (low, high) and what its file says of the calibration
    (DetectorInfo's named fields verdict_precision and precision_reached; None: nothing is known of it)."""
    precision = None if info is None else info.verdict_precision
    reached = None if info is None else info.precision_reached
    return verdict_limitation(*image_thresholds, precision, reached)
