"""Streaming inference over any number of inputs: decode ahead in threads, batch by window, bounded memory.

Inputs are cut into windows of `batch_size` consecutive inputs (by position, whatever was already done).
A window is the unit of batching: its images go to one Detector.heatmaps call, which batches their
model inputs (whole images and the tiles of large ones) by padded shape. So an image's batch, and
therefore its heatmap to the last bit, depends only on its window: a run that resumes after a crash
(skipping windows already done, re-running whole any window that holds an image not done) writes
byte-identical outputs to an uninterrupted run on the same device.

At most `prefetch` windows beyond the current one are being decoded; decoded images are dropped as soon
as their window is done.
"""

from __future__ import annotations

import itertools
import os
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from deal.baselines.views import ViewResult, run_views
from deal.imageio import ImageLoadError, LoadedImage, load_any
from deal.inference.detection import Detection, NonFiniteMapError, non_finite_message
from deal.modeling.constants import DEFAULT_BATCH_SIZE
from deal.provenance import ProvenanceOptions


class HeatmapSource(Protocol):
    """What streaming needs of a deal.inference.detector.Detector (which imports this module, not the
    other way round)."""

    max_pixels: int
    provenance: ProvenanceOptions  # what load_any reads of each file's origin besides its pixels

    @property
    def threshold(self) -> float: ...

    @property
    def image_thresholds(self) -> tuple[float, float]: ...

    def heatmaps(  # raises NonFiniteMapError for a map with NaN or inf; `seconds` gets each image's time
        self,
        images: list[np.ndarray],
        batch_size: int = ...,
        *,
        sources: list[str] | None = None,
        seconds: list[float] | None = None,
    ) -> list[np.ndarray]: ...

    def inference_mode_of(self, height: int, width: int) -> str: ...


@dataclass
class WorkItem:
    """One input: its position, what to read, and whether its result is wanted (False: only batch context)."""

    index: int
    source: Any
    wanted: bool = True


@dataclass
class Outcome:
    """The result for one wanted input: a Detection, or an error message naming the input (non_finite: the
    error is a heatmap with NaN or inf, the detector's failure rather than the input's)."""

    index: int
    source: Any
    loaded: LoadedImage | None
    detection: Detection | None
    error: str | None
    inference: str | None
    seconds: float
    non_finite: bool = False
    views: dict[str, ViewResult] = field(default_factory=dict)


def windows_of(items: Iterable[Any], batch_size: int) -> Iterator[list[WorkItem]]:
    """Consecutive windows of `batch_size` inputs, every one wanted."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    counter = itertools.count()
    it = iter(items)
    while chunk := list(itertools.islice(it, batch_size)):
        yield [WorkItem(next(counter), s) for s in chunk]


def _describe(source: Any) -> str:
    return str(source) if isinstance(source, (str, os.PathLike)) else type(source).__name__


Load = tuple[LoadedImage | None, str | None, float, dict[str, ViewResult]]


def _timed_load(
    source: Any, max_pixels: int, provenance: ProvenanceOptions | None = None, views: tuple[str, ...] = ()
) -> Load:
    """Decode one input and compute the asked-for views of it (in the decoding thread, not the model's):
    (image or None, error or None, seconds of decoding, views by name; a failing view is a note in them)."""
    t0 = time.perf_counter()
    try:
        loaded = load_any(source, max_pixels=max_pixels, provenance=provenance)
    except ImageLoadError as err:
        return None, str(err), time.perf_counter() - t0, {}
    except Exception as err:  # anything else must not stop a run of a million images
        message = f"{_describe(source)}: unexpected error while reading: {type(err).__name__}: {err}"
        return None, message, time.perf_counter() - t0, {}
    seconds = time.perf_counter() - t0
    return loaded, None, seconds, run_views(views, loaded.array)


def _process_window(
    detector: HeatmapSource,
    window: list[WorkItem],
    loads: list[Load],
    *,
    batch_size: int,
    threshold: float,
    image_thresholds: tuple[float, float] | None = None,
) -> list[Outcome]:
    maps: dict[int, np.ndarray] = {}
    infer_seconds: dict[int, float] = {}
    errors: dict[int, str] = {}
    non_finite: set[int] = set()
    # Every decoded image of the window runs, wanted or not, in one Detector.heatmaps call: the batches
    # (tiles of several images share them) then depend only on the window, so a resumed run computes
    # exactly the batches of an uninterrupted one.
    positions = [p for p, (ld, *_) in enumerate(loads) if ld is not None]
    if positions and any(window[p].wanted for p in positions):
        window_maps, own_seconds = _window_heatmaps(detector, window, loads, positions, errors, batch_size)
        for p, m, dt in zip(positions, window_maps, own_seconds):
            if m is not None:
                maps[p], infer_seconds[p] = m, dt
            elif p not in errors:
                non_finite.add(p)
                errors[p] = non_finite_message(loads[p][0].source)
    out = []
    for p, (item, (loaded, error, load_s, views)) in enumerate(zip(window, loads)):
        if not item.wanted:
            continue
        detection, inference, t0 = None, None, time.perf_counter()
        error = error or errors.get(p)
        if error is None and loaded is not None:
            detection = Detection.from_heatmap(
                maps[p],
                threshold,
                source=loaded.source,
                notes=loaded.notes,
                image_thresholds=image_thresholds,
                provenance=loaded.provenance,
                views=views,
            )
            inference = detector.inference_mode_of(detection.height, detection.width)
        seconds = load_s + infer_seconds.get(p, 0.0) + time.perf_counter() - t0
        failed_map = p in non_finite
        out.append(Outcome(item.index, item.source, loaded, detection, error, inference, seconds, failed_map, views))
    return out


def _window_heatmaps(
    detector: HeatmapSource,
    window: list[WorkItem],
    loads: list[Load],
    positions: list[int],
    errors: dict[int, str],
    batch_size: int,
) -> tuple[list[np.ndarray | None], list[float]]:
    """The heatmaps of the decoded images of a window (at `positions`) in one Detector.heatmaps call (None:
    not finite, or failed with its message added to `errors`), and each image's own inference seconds
    (deal.inference.image_times)."""
    t0 = time.perf_counter()
    arrays, sources = [loads[p][0].array for p in positions], [loads[p][0].source for p in positions]
    seconds: list[float] = []
    window_maps: list[np.ndarray | None]
    try:
        window_maps = list(detector.heatmaps(arrays, batch_size=batch_size, sources=sources, seconds=seconds))
    except NonFiniteMapError as err:  # the detector's own check: the other maps of the window stand
        window_maps = err.maps
    except Exception:  # e.g. out of memory on one huge image: find it, report it, go on with the others
        failed_share = (time.perf_counter() - t0) / len(positions)
        window_maps, seconds = [], []
        for p in positions:
            t1 = time.perf_counter()
            heatmap, error = _heatmap_alone(detector, loads[p][0], _describe(window[p].source), batch_size)
            window_maps.append(heatmap)
            seconds.append(failed_share + time.perf_counter() - t1)
            if error:
                errors[p] = error
    if len(seconds) != len(positions):  # not timed per image: an equal share each
        seconds = [(time.perf_counter() - t0) / len(positions)] * len(positions)
    return window_maps, seconds


def _heatmap_alone(
    detector: HeatmapSource, loaded: LoadedImage, name: str, batch_size: int
) -> tuple[np.ndarray | None, str | None]:
    """(map, None) of one image run on its own after its window failed; (None, None) when its map is not
    finite; (None, error) when it fails too."""
    try:
        (heatmap,) = detector.heatmaps([loaded.array], batch_size=batch_size, sources=[loaded.source])
        return heatmap, None
    except NonFiniteMapError:
        return None, None
    except Exception as err:
        return None, f"{name}: inference failed: {type(err).__name__}: {err}"


def stream_outcomes(
    detector: HeatmapSource,
    windows: Iterable[list[WorkItem]],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int = 0,
    threshold: float | None = None,
    prefetch: int = 2,
    views: tuple[str, ...] = (),
) -> Iterator[Outcome]:
    """One Outcome per wanted item, in window order.

    Args:
        detector: the Detector.
        windows: lists of WorkItems (see the module docstring); windows with no wanted item are skipped
            without reading anything.
        batch_size: the batch size of tiles (for tiled images).
        workers: decoding threads (0: decode in the calling thread).
        threshold: overrides the detector's pixel threshold (the mask; the verdict keeps its thresholds).
        prefetch: windows decoded ahead of the current one.
        views: classic forensic views (deal.baselines.views) to compute of each image, in the decoding
            threads; their results are in Outcome.views and Detection.views.
    """
    if workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    thr = detector.threshold if threshold is None else float(threshold)
    provenance = detector.provenance
    pool = ThreadPoolExecutor(workers, thread_name_prefix="deal-decode") if workers > 0 else None
    pending: deque[tuple[list[WorkItem], list[Future] | None]] = deque()
    it = iter(windows)

    def submit_next() -> None:
        for window in it:
            if not any(item.wanted for item in window):
                continue
            futures = (
                [pool.submit(_timed_load, w.source, detector.max_pixels, provenance, views if w.wanted else ()) for w in window]
                if pool
                else None
            )
            pending.append((window, futures))
            return

    try:
        for _ in range(prefetch + 1 if pool else 1):
            submit_next()
        while pending:
            window, futures = pending.popleft()
            submit_next()
            if futures is not None:
                loads = [f.result() for f in futures]
            else:
                loads = [_timed_load(w.source, detector.max_pixels, provenance, views if w.wanted else ()) for w in window]
            yield from _process_window(
                detector, window, loads, batch_size=batch_size, threshold=thr, image_thresholds=detector.image_thresholds
            )
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
