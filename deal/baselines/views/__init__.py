"""Classic forensic views: training-free maps an analyst reads beside the model's heatmap.

Each view is one function ``image (HxWx3 uint8 RGB) -> (map or None, score or None, note or None)``: the map
is float32 in [0, 1] at the image's size (None: the view does not apply to this image, and the note says
why); the score is the view's image-level figure (None: the image score of its map, as for the model). The
same function is the view in ``deal detect --views``, ``Detection.views``, the report and the page, and the
baseline ``deal benchmark --baseline NAME`` scores (:data:`VIEWS` ``[name].baseline``).

:func:`run_view` is how every run calls a view: it times it, and turns an exception into a note (a failing
view never fails the image).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from deal.baselines.views.copymove import copymove_view
from deal.baselines.views.ela import ELA_QUALITY, ela_view
from deal.baselines.views.jpeg_grid import jpeg_view
from deal.baselines.views.noise import noise_view
from deal.baselines.views.spectral import spectral_view
from deal.metrics.image_score import image_score

ViewFunction = Callable[[np.ndarray], tuple["np.ndarray | None", "float | None", "str | None"]]


@dataclass(frozen=True)
class View:
    """A registered view: its name (``--views``), its baseline name (``--baseline``), a short title for
    legends, what it shows in one line, and its function."""

    name: str
    baseline: str
    title: str
    shows: str
    function: ViewFunction


VIEWS: dict[str, View] = {
    v.name: v
    for v in (
        View("ela", "ela", "Error level (ELA)", f"change under a JPEG re-save at quality {ELA_QUALITY}", ela_view),
        View("noise", "noise", "Noise level", "local noise level far from the image's median", noise_view),
        View("jpeg", "jpeg", "JPEG grid", "an 8x8 block grid out of step with the image's", jpeg_view),
        View("spectral", "spectral-slope", "Spectral slope", "finest-band energy deficit", spectral_view),
        View("copymove", "copymove", "Copy-move", "regions copied within the image (source and target)", copymove_view),
    )
}


@dataclass
class ViewResult:
    """One view of one image.

    Attributes:
        name: the view's name.
        map: HxW float32 in [0, 1] at the image's size, or None (not applicable, or the view failed).
        score: the view's image-level score (the image score of the map where the view gives none), or None.
        note: why there is no map, or what the view found (None: nothing to say).
        seconds: the view's time on this image.
    """

    name: str
    map: np.ndarray | None
    score: float | None
    note: str | None = None
    seconds: float = 0.0
    failed: bool = field(default=False)


def check_view_names(names: str | Iterable[str]) -> list[str]:
    """The names (a list, or one comma-separated string as ``--views`` takes), de-duplicated in order;
    ValueError naming the unknown one and the choices."""
    if isinstance(names, str):
        names = names.split(",")
    names = list(dict.fromkeys(n.strip() for n in names if n.strip()))
    for name in names:
        if name not in VIEWS:
            raise ValueError(f"unknown view {name!r}; choose from {', '.join(VIEWS)}")
    return names


def run_view(name: str, image: np.ndarray) -> ViewResult:
    """View ``name`` of ``image``; an exception becomes a ViewResult with no map and a note naming it."""
    t0 = time.perf_counter()
    try:
        probs, score, note = VIEWS[name].function(image)
        if probs is not None:
            if probs.shape != image.shape[:2]:
                raise ValueError(f"the view returned a {probs.shape} map for a {image.shape[:2]} image")
            probs = probs.astype(np.float32, copy=False)
            score = image_score(probs) if score is None else float(score)
        return ViewResult(name, probs, score, note, time.perf_counter() - t0)
    except Exception as err:  # one view's failure must not fail the image or the run
        note = f"the {name} view failed: {type(err).__name__}: {err}"
        return ViewResult(name, None, None, note, time.perf_counter() - t0, failed=True)


def run_views(names: Iterable[str], image: np.ndarray) -> dict[str, ViewResult]:
    """Every view in ``names`` (in order) of one image."""
    return {name: run_view(name, image) for name in names}


def view_baseline(name: str) -> Callable[[np.ndarray], tuple[np.ndarray, float | None]]:
    """View ``name`` as a benchmark baseline ``image -> (map, score)``: where the view does not apply, an
    all-zero map with score 0 (it says nothing about the image); an exception propagates."""
    function = VIEWS[name].function

    def baseline(image: np.ndarray) -> tuple[np.ndarray, float | None]:
        probs, score, _ = function(image)
        if probs is None:
            return np.zeros(image.shape[:2], np.float32), 0.0
        return probs, score

    baseline.__name__ = f"{name}_view"
    return baseline


__all__ = ["VIEWS", "View", "ViewResult", "check_view_names", "run_view", "run_views", "view_baseline"]
