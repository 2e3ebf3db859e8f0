"""Detector: a trained MFPT model plus what inference needs (device, threshold, input policy, tiling).

How an image reaches the model (its "inference" in results):

- "native" policy (no resampling), image no larger than the tile (config.image_size) along both axes:
  one pass, padded to a multiple of 16 ("native").
- "native" policy, larger image, tile=True: overlapping windows of image_size pixels, overlap
  image_size/8 (64 px for 512), blended with a linear ramp (deal.inference.tiling) ("tiled").
  Memory stays bounded whatever the image size.
- "native" policy, larger image, tile=False: the image is downscaled (area interpolation) so its longest
  side is image_size, predicted in one pass, and the logits are resized back (bilinear) ("resized").
- "sam" policy: SAM's resize of the longest side to image_size and square padding (deal.modeling.
  input_policy), logits resized back; never tiled ("sam").

Batches group model inputs (whole images, resized images, tiles of any image) that share a padded shape
(deal.modeling.input_policy.batch_shape_key; any images under "sam"), so an image's heatmap never
depends on the padding of other images, and the tiles of many images fill one batch. The model runs under
torch.inference_mode, in bf16 autocast on CUDA and float32 elsewhere.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np
import torch

from deal.inference.detection import Detection
from deal.inference.devices import autocast, precision, resolve_device
from deal.inference.image_loading import DEFAULT_MAX_PIXELS, ImageLoadError, load_any
from deal.inference.streaming import DEFAULT_BATCH_SIZE, stream_outcomes, windows_of
from deal.inference.tiling import TileBlender, Window, tile_windows
from deal.metrics.image_score import check_image_thresholds
from deal.modeling.config import ModelConfig
from deal.modeling.detector_file import DetectorInfo, load_detector
from deal.modeling.input_policy import group_by_shape, prepare_batch, restore, sam_resized_hw
from deal.modeling.mfpt import MFPT
from deal.provenance import ProvenanceOptions

BUNDLED_DESCRIPTION = "the bundled demonstration detector trained on synthetic edits"
_bundled_notice_shown = False

__all__ = ["Detector", "Detection"]


def default_overlap(tile: int, patch: int = 16) -> int:
    """Tile overlap: an eighth of the tile, a multiple of the patch size, at least one patch."""
    return max(patch, (tile // 8) // patch * patch)


def find_sam_checkpoint(path: str | os.PathLike) -> Path | None:
    """The SAM checkpoint a frozen-encoder detector file names, found in the weights folders (deal.hub); None
    for a detector that needs none. FileNotFoundError naming the file and the fetch command when absent."""
    from deal.hub import SAM_CHECKPOINTS, find_weights
    from deal.modeling.detector_file import read_detector_info

    info = read_detector_info(path, with_sha256=False)
    if info.config.train_encoder or not info.base_checkpoint:
        return None
    found = find_weights(info.base_checkpoint)
    if found is None:
        size = {v: k for k, v in SAM_CHECKPOINTS.items()}.get(info.base_checkpoint)
        hint = f"; run: deal weights fetch {size}" if size else ""
        raise FileNotFoundError(f"{path}: needs the SAM checkpoint {info.base_checkpoint!r} it was trained on{hint}")
    return found


def calibrated_image_thresholds(info: DetectorInfo) -> tuple[float, float]:
    """The verdict's (low, high) recorded in a detector file: extra["image_thresholds"]; a file from before
    the two-threshold verdict has one extra["image_threshold"] (low = high); without either, the pixel
    threshold (low = high)."""
    extra = info.extra or {}
    if extra.get("image_thresholds") is not None:
        low, high = extra["image_thresholds"]
        return float(low), float(high)
    single = extra.get("image_threshold", info.threshold)
    return float(single), float(single)


class Job(NamedTuple):
    """One model input: image `image` of a heatmaps() call, whole (window None) or one tile of it."""

    image: int
    window: Window | None
    pixels: np.ndarray


class Detector:
    """Runs a trained MFPT model on images of any size.

    Args:
        model: the MFPT model (put in eval mode; moved to `device`).
        info: what its detector file says (name, config, threshold, sha256); None for a model that has no
            file (name "in-memory", threshold 0.5).
        device: "auto" (the model's device if it is not on the CPU, else CUDA, then MPS, then CPU),
            "cpu", "cuda", "mps" or a torch.device.
        threshold: the pixel threshold of the mask (probability > threshold); None for the detector's
            calibrated one.
        image_thresholds: (low, high) of the verdict on the image score (deal.metrics.image_score.verdict);
            None for the detector's calibrated pair.
        tile: tile images larger than config.image_size (native policy); False resizes them instead.
        max_pixels: larger inputs are refused before decoding (decompression bomb guard).
    """

    def __init__(
        self,
        model: MFPT,
        info: DetectorInfo | None = None,
        device: str | torch.device = "auto",
        *,
        threshold: float | None = None,
        image_thresholds: tuple[float, float] | None = None,
        tile: bool = True,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        if info is None:
            info = DetectorInfo(name="in-memory", config=model.config)
        if device == "auto":
            param = next(model.parameters(), None)
            if param is not None and param.device.type != "cpu":
                device = param.device
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.info = info
        t = info.threshold if threshold is None else float(threshold)
        if not 0.0 <= t <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {t}")
        self._threshold = t
        self._image_thresholds = check_image_thresholds(
            *(image_thresholds if image_thresholds is not None else calibrated_image_thresholds(info))
        )
        self.tile = bool(tile)
        if max_pixels < 1:
            raise ValueError(f"max_pixels must be >= 1, got {max_pixels}")
        self.max_pixels = int(max_pixels)
        self.provenance = ProvenanceOptions()  # what load_any reads of each file's origin (trust anchors)
        self.patch = self.config.spec.patch_size
        self.overlap = default_overlap(self.config.image_size, self.patch)

    # --- construction ---------------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        path: str | os.PathLike | None = None,
        device: str | torch.device = "auto",
        *,
        threshold: float | None = None,
        image_thresholds: tuple[float, float] | None = None,
        sam_checkpoint: str | os.PathLike | None = None,
        force: bool = False,
        tile: bool = True,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> Detector:
        """Loads a detector file (None: the bundled demonstration detector, announced once on stderr).

        A frozen-encoder detector needs its SAM checkpoint (`sam_checkpoint`, or found in the weights
        folders); one whose sha256 differs from the detector's record is refused unless force=True.
        """
        global _bundled_notice_shown
        if path is None:
            from deal.hub import bundled_detector_path

            path = bundled_detector_path()
            if path is None:
                raise FileNotFoundError(
                    "no bundled detector is installed; pass a detector file (--detector FILE / Detector.load(path))"
                )
            if not _bundled_notice_shown:
                print(f"deal: using {BUNDLED_DESCRIPTION} ({path})", file=sys.stderr)
                _bundled_notice_shown = True
        if sam_checkpoint is None:
            sam_checkpoint = find_sam_checkpoint(path)
        model, info = load_detector(Path(path), sam_checkpoint=sam_checkpoint, force=force)
        return cls(
            model, info, device, threshold=threshold, image_thresholds=image_thresholds, tile=tile,
            max_pixels=max_pixels,
        )

    # --- properties -----------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.info.name

    @property
    def sha256(self) -> str | None:
        """sha256 of the detector file (None for an in-memory model)."""
        return self.info.sha256

    @property
    def threshold(self) -> float:
        return self._threshold

    @property
    def image_thresholds(self) -> tuple[float, float]:
        """(low, high): the verdict on Detection.score (deal.metrics.image_score.VERDICT_RULE)."""
        return self._image_thresholds

    @property
    def config(self) -> ModelConfig:
        return self.info.config

    @property
    def precision(self) -> str:
        return precision(self.device)

    def __repr__(self) -> str:
        return (
            f"Detector(name={self.name!r}, encoder={self.config.encoder!r}, policy={self.config.input_policy!r}, "
            f"image_size={self.config.image_size}, threshold={self.threshold}, device={str(self.device)!r}, "
            f"tile={self.tile})"
        )

    # --- planning -------------------------------------------------------------------------------
    def inference_mode_of(self, height: int, width: int) -> str:
        """How an image of this size is processed: "native", "tiled", "resized" or "sam" (module docstring)."""
        if self.config.input_policy == "sam":
            return "sam"
        size = self.config.image_size
        if height <= size and width <= size:
            return "native"
        return "tiled" if self.tile else "resized"

    def _resized_hw(self, height: int, width: int) -> tuple[int, int]:
        return sam_resized_hw(height, width, self.config.image_size)

    # --- inference ------------------------------------------------------------------------------
    def model_input(self, arrays: Sequence[np.ndarray]) -> tuple[torch.Tensor, list]:
        """HxWx3 uint8 arrays of one padded shape -> the model's input batch on the device and placements
        (deal.modeling.input_policy.prepare_batch; equal shapes go through its vectorized path)."""
        cfg = self.config
        if len(arrays) > 1 and cfg.input_policy == "native" and all(a.shape == arrays[0].shape for a in arrays):
            batch_input: Any = torch.from_numpy(np.stack(arrays))
        else:
            batch_input = list(arrays)
        return prepare_batch(
            batch_input, policy=cfg.input_policy, image_size=cfg.image_size, patch_size=self.patch, device=self.device
        )

    def _logits(self, arrays: list[np.ndarray]) -> list[torch.Tensor]:
        """HxWx3 uint8 arrays of one padded shape -> HxW float32 logit maps on the CPU (one forward pass)."""
        batch, placements = self.model_input(arrays)
        with torch.inference_mode(), autocast(self.device):
            logits = self.model(batch)
        return [m.cpu() for m in restore(logits.float(), placements)]

    def plan(self, images: Sequence[np.ndarray], batch_size: int = DEFAULT_BATCH_SIZE) -> tuple[list[Job], list[list[int]]]:
        """The model inputs ("jobs": a whole image, a resized one, or one tile of a large one) of `images`,
        and the batches heatmaps() runs them in (lists of job indices): jobs with the same padded shape
        (deal.modeling.input_policy.batch_shape_key) share batches of `batch_size` whatever image they come
        from, groups in order of first appearance."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        cfg = self.config
        jobs: list[Job] = []
        for i, img in enumerate(images):
            if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
                raise ValueError(f"expected HxWx3 uint8 RGB arrays, got shape {img.shape} dtype {img.dtype}")
            mode = self.inference_mode_of(*img.shape[:2])
            if mode == "tiled":
                windows = tile_windows(*img.shape[:2], tile=cfg.image_size, overlap=self.overlap)
                jobs += [Job(i, w, img[w.y : w.y + w.h, w.x : w.x + w.w]) for w in windows]
            elif mode == "resized":
                hw = self._resized_hw(*img.shape[:2])
                jobs.append(Job(i, None, cv2.resize(img, hw[::-1], interpolation=cv2.INTER_AREA)))
            else:
                jobs.append(Job(i, None, img))
        groups = group_by_shape(
            [job.pixels.shape[:2] for job in jobs], policy=cfg.input_policy, image_size=cfg.image_size,
            patch_size=self.patch,
        )
        batches = [members[s : s + batch_size] for members in groups for s in range(0, len(members), batch_size)]
        return jobs, batches

    def heatmaps(self, images: Sequence[np.ndarray], batch_size: int = DEFAULT_BATCH_SIZE) -> list[np.ndarray]:
        """HxWx3 uint8 RGB arrays -> HxW float32 probability maps at each image's size.

        The model inputs run in the batches of plan(): the tiles of many images fill one batch, so
        throughput does not fall with the tile count. An image's result depends only on the list of images
        given. Tiles are blended back (deal.inference.tiling); resized images' maps are resized back.
        """
        jobs, batches = self.plan(images, batch_size)
        out: list[np.ndarray | None] = [None] * len(images)
        blenders = {
            i: TileBlender(*images[i].shape[:2], tile=self.config.image_size, overlap=self.overlap)
            for i in {job.image for job in jobs if job.window is not None}
        }
        for batch in batches:
            chunk = [jobs[j] for j in batch]
            for job, logit in zip(chunk, self._logits([job.pixels for job in chunk])):
                i = job.image
                if tuple(logit.shape) != images[i].shape[:2] and job.window is None:  # "resized": logits back
                    h, w = images[i].shape[:2]
                    logit = torch.from_numpy(cv2.resize(logit.numpy(), (w, h), interpolation=cv2.INTER_LINEAR))
                probs = torch.sigmoid(logit).numpy()
                if job.window is not None:
                    blenders[i].add(job.window, probs)
                else:
                    out[i] = probs
        for i, blender in blenders.items():
            out[i] = blender.result()
        return out  # type: ignore[return-value]

    def predict(self, image: Any, threshold: float | None = None) -> Detection:
        """One image -> Detection.

        Args:
            image: a path, a PIL image, an HxWx3 uint8 array, or a tensor (3xHxW or HxWx3, uint8 on 0-255 or
                float on [0, 1]).
            threshold: overrides the detector's pixel threshold (the mask); the verdict keeps
                image_thresholds.

        Raises:
            ImageLoadError: the input cannot be read or decoded (the message names it and the problem).
        """
        loaded = load_any(image, max_pixels=self.max_pixels, provenance=self.provenance)
        (heatmap,) = self.heatmaps([loaded.array])
        return Detection.from_heatmap(
            heatmap,
            self.threshold if threshold is None else threshold,
            source=loaded.source,
            notes=loaded.notes,
            image_thresholds=self.image_thresholds,
            provenance=loaded.provenance,
        )

    def predict_many(
        self,
        items: Iterable[Any],
        batch_size: int = DEFAULT_BATCH_SIZE,
        workers: int = 0,
        *,
        threshold: float | None = None,
        on_error: str = "raise",
    ) -> Iterator[Detection]:
        """Streams one Detection per input, in input order, with bounded memory.

        Inputs are decoded ahead (at most two batches) by `workers` threads (0: in the calling thread).
        on_error="raise" raises ImageLoadError at the first unreadable input; "skip" leaves it out (its
        Detection is missing: use Detection.source, or run_detection for per-input error records).
        """
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        for outcome in stream_outcomes(
            self, windows_of(items, batch_size), batch_size=batch_size, workers=workers, threshold=threshold
        ):
            if outcome.detection is not None:
                yield outcome.detection
            elif on_error == "raise":
                raise ImageLoadError(outcome.error or "unknown error")
