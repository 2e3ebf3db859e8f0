"""One dataset under one perturbation in ``deal benchmark``: predict the windows of a plan, keep each map
until every image that needs it is scored, score, and record what failed.

A predictor that raises on a window is asked again image by image; an image whose prediction raises, or whose
map has the wrong size, is not a float map or holds values outside [0, 1] (NaN included) becomes an error
row (dataset, run, image, message) and is left out of the metrics; the run goes on. An edited image whose
original failed is scored without its control.
"""

from __future__ import annotations

import time
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from deal.evaluation.benchmark_plan import Item
from deal.evaluation.perturb import Perturbation
from deal.metrics.convention import MetricConvention
from deal.metrics.localization import LocalizationMetrics
from deal.modeling.input_policy import resize_map

BatchFn = Callable[[list[np.ndarray]], Sequence[tuple[Any, float | None]]]


def image_seed(seed: int, name: str) -> int:
    """The noise seed of one image: stable across runs, independent of order and ``limit``."""
    return (seed + zlib.crc32(name.encode("utf-8"))) % (2**32)


@dataclass(frozen=True)
class Prediction:
    """A checked map (float32, at the predictor's input size) and the predictor's score (None: deal's)."""

    probs: np.ndarray
    score: float | None


def check_map(probs: Any, hw: tuple[int, int]) -> np.ndarray:
    """``probs`` as a float32 ``HxW`` map of the input's size with values in [0, 1]; ValueError otherwise."""
    probs = np.asarray(probs)
    if probs.shape != tuple(hw):
        raise ValueError(f"the predictor returned a {probs.shape} map for a {hw[0]}x{hw[1]} (HxW) input")
    if not np.issubdtype(probs.dtype, np.floating):
        raise ValueError(f"the predictor returned a {probs.dtype} map; expected floats in [0, 1]")
    probs = probs.astype(np.float32, copy=False)
    if probs.size and not (np.isfinite(probs).all() and probs.min() >= 0.0 and probs.max() <= 1.0):
        raise ValueError("the predictor returned a map with values outside [0, 1] (or NaN)")
    return probs


def _reason(err: Exception) -> str:
    return f"the predictor failed: {type(err).__name__}: {err}" if str(err) else type(err).__name__


def predict_each(predict_batch: BatchFn, inputs: list[np.ndarray]) -> list[Prediction | str]:
    """One checked :class:`Prediction`, or the reason it failed, per input: the whole window in one call,
    and image by image when that call raises."""
    try:
        outputs: list[Any] = list(predict_batch(inputs))
        if len(outputs) != len(inputs):
            raise ValueError(f"the predictor returned {len(outputs)} results for {len(inputs)} images")
    except Exception:  # noqa: BLE001 - any failure of the predictor is recorded, image by image
        outputs = []
        for x in inputs:
            try:
                (one,) = list(predict_batch([x]))
                outputs.append(one)
            except Exception as err:  # noqa: BLE001
                outputs.append(err)
    results: list[Prediction | str] = []
    for x, out in zip(inputs, outputs):
        if isinstance(out, Exception):
            results.append(_reason(out))
            continue
        try:
            probs, score = out
            results.append(Prediction(check_map(probs, x.shape[:2]), None if score is None else float(score)))
        except (TypeError, ValueError) as err:
            results.append(str(err))
    return results


class DatasetRun:
    """The maps, metrics, timing and errors of one dataset under one perturbation."""

    def __init__(
        self, dataset: str, perturbation: Perturbation, convention: MetricConvention, uses: Counter[str]
    ) -> None:
        self.dataset = dataset
        self.perturbation = perturbation
        self.metrics = LocalizationMetrics(convention=convention)
        self.uses = Counter(uses)  # scored images that still need each map
        self.maps: dict[str, Prediction | str] = {}  # key -> map, or why it failed
        self.waiting: list[tuple[Item, np.ndarray]] = []  # (image, ground truth) until its maps are in
        self.seconds = 0.0  # predictor time
        self.cpu_seconds = 0.0  # the process's CPU time (all threads) in the predictor
        self.megapixels = 0.0  # of the images handed to the predictor
        self.n_predicted = 0  # images handed to the predictor
        self.positions: list[int] = []  # Item.position of each row of self.metrics, in the order scored
        self.errors: list[dict[str, Any]] = []

    def fail(self, item: Item, reason: str) -> None:
        """Record that ``item`` has no map (an error row of its own)."""
        self.maps[item.key] = reason
        self.errors.append(
            {"dataset": self.dataset, "run": self.perturbation.label, "image": item.name, "file": item.path, "error": reason}
        )

    def predict(self, predict_batch: BatchFn, items: list[Item], images: dict[str, np.ndarray], seed: int) -> None:
        """Predict ``items`` (their decoded ``images`` by key) under this run's perturbation, in one window."""
        items = [it for it in items if it.key in images and it.key not in self.maps]
        if not items:
            return
        inputs = [self.perturbation.apply(images[it.key], seed=image_seed(seed, it.name)) for it in items]
        start, cpu_start = time.perf_counter(), time.process_time()
        results = predict_each(predict_batch, inputs)
        self.seconds += time.perf_counter() - start
        self.cpu_seconds += time.process_time() - cpu_start
        self.megapixels += sum(x.shape[0] * x.shape[1] for x in inputs) / 1e6
        self.n_predicted += len(inputs)
        for item, result in zip(items, results):
            if isinstance(result, str):
                self.fail(item, result)
            else:
                self.maps[item.key] = result

    def score_ready(self, arrived: list[tuple[Item, np.ndarray]] = ()) -> None:
        """Queue ``arrived`` (image, ground truth) and score every queued image whose maps are all in."""
        still = []
        for item, gt in [*self.waiting, *arrived]:
            if item.key not in self.maps or (item.control is not None and item.control not in self.maps):
                still.append((item, gt))
                continue
            self._score(item, gt)
        self.waiting = still

    def _score(self, item: Item, gt: np.ndarray) -> None:
        own = self.maps[item.key]
        control = self.maps.get(item.control) if item.control is not None else None
        if isinstance(own, Prediction):
            ctrl = resize_map(torch.from_numpy(control.probs), gt.shape) if isinstance(control, Prediction) else None
            self.metrics.update(
                [resize_map(torch.from_numpy(own.probs), gt.shape)],
                [torch.from_numpy(gt)],
                torch.tensor([item.label]),
                None if own.score is None else [own.score],
                controls=[ctrl],
            )
            self.positions.append(item.position)
        for key in (item.key, item.control):
            if key is not None:
                self._release(key)

    def _release(self, key: str) -> None:
        self.uses[key] -= 1
        if self.uses[key] <= 0:
            self.maps.pop(key, None)
            del self.uses[key]

    def row(self) -> dict[str, Any]:
        """The report's row of this run (every queued image scored)."""
        if self.waiting:
            raise RuntimeError(f"{len(self.waiting)} images of {self.dataset} were never scored")
        p = self.perturbation
        return {
            "dataset": self.dataset,
            "perturbation": p.kind,
            "strength": p.strength,
            "label": p.label,
            "n_images": len(self.positions),
            "n_errors": len(self.errors),
            "n_predicted": self.n_predicted,
            "predict_seconds": self.seconds,
            "images_per_s": self.n_predicted / self.seconds if self.seconds > 0 else float("nan"),
            "predict_cpu_seconds": self.cpu_seconds,
            "megapixels": self.megapixels,
            "metrics": self._in_dataset_order().compute(),
        }

    def _in_dataset_order(self) -> LocalizationMetrics:
        """The metric with its rows (one per image, in the order scored) in dataset order (Item.position)."""
        order = sorted(range(len(self.positions)), key=self.positions.__getitem__)
        self.metrics.rows = [self.metrics.rows[i] for i in order]
        self.positions = [self.positions[i] for i in order]
        return self.metrics
