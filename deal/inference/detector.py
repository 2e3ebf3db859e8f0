"""Detector: a trained MFPT model plus what inference needs (device, threshold, tiling, batching).

How an image reaches the model (its "inference" in results) is the model's input pipeline
(deal.modeling.input_pipeline): "native" (whole, padded to a multiple of 16), "tiled" (overlapping windows
of image_size, blended back), "resized" (longest side to image_size, logits resized back) or "sam" (SAM's
resize and square padding). The Detector adds the device and the batching: the model runs under
torch.inference_mode, in bf16 autocast on CUDA and float32 elsewhere.
"""

from __future__ import annotations

import copy
import inspect
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from deal.baselines.views import check_view_names, run_views
from deal.imageio import DEFAULT_MAX_PIXELS, ImageLoadError, load_any
from deal.inference.detection import Detection, NonFiniteMapError, non_finite_message
from deal.inference.devices import autocast, precision, resolve_device
from deal.inference.image_times import ImageClock
from deal.inference.streaming import stream_outcomes, windows_of
from deal.metrics.image_score import check_image_thresholds
from deal.modeling.config import ModelConfig
from deal.modeling.detector_file import DetectorInfo, load_detector
from deal.modeling.input_pipeline import DEFAULT_BATCH_SIZE, InputPipeline, Plan
from deal.modeling.mfpt import MFPT
from deal.provenance import ProvenanceOptions

BUNDLED_DESCRIPTION = "the bundled demonstration detector trained on synthetic edits"
_bundled_notice_shown = False

__all__ = ["Detector", "Detection"]


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


def _same_device(a: torch.device, b: torch.device) -> bool:
    """Whether a and b are one device ("cuda" is the current CUDA device, as torch places it)."""
    if a.type != b.type:
        return False
    current = torch.cuda.current_device() if a.type == "cuda" and torch.cuda.is_available() else 0
    return (a.index if a.index is not None else current) == (b.index if b.index is not None else current)


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
        bundled: whether this is the bundled demonstration detector (Detector.load sets it; a run's
            metadata carries it to the report's banner).
        provenance: what is read of each input file's origin besides its pixels (deal.provenance: C2PA
            trust anchors, or enabled=False); None: the defaults (read, no signer trusted).
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
        bundled: bool = False,
        provenance: ProvenanceOptions | None = None,
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
        t = info.threshold if threshold is None else float(threshold)  # the file's was validated on reading
        if not 0.0 <= t <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {t}")
        self._threshold = t
        self._image_thresholds = check_image_thresholds(
            *(image_thresholds if image_thresholds is not None else info.verdict_thresholds)
        )
        self.tile = bool(tile)
        if max_pixels < 1:
            raise ValueError(f"max_pixels must be >= 1, got {max_pixels}")
        self.max_pixels = int(max_pixels)
        self.bundled = bool(bundled)
        self.pipeline = InputPipeline(self.config, tile=self.tile)
        # What load_any reads of a file's origin besides its pixels (deal.provenance: trust anchors, or off).
        self.provenance = ProvenanceOptions() if provenance is None else provenance

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
        provenance: ProvenanceOptions | None = None,
    ) -> Detector:
        """Loads a detector file (None: the bundled demonstration detector, announced once on stderr).

        A frozen-encoder detector needs its SAM checkpoint (`sam_checkpoint`, or found in the weights
        folders); one whose sha256 differs from the detector's record is refused unless force=True.
        """
        global _bundled_notice_shown
        from deal.hub import bundled_detector_path

        bundled_path = bundled_detector_path()
        bundled = path is None or (bundled_path is not None and Path(path).resolve() == bundled_path.resolve())
        if path is None:
            path = bundled_path
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
            max_pixels=max_pixels, bundled=bundled, provenance=provenance,
        )

    def replace(self, **changes: Any) -> Detector:
        """A new Detector with `changes` to its constructor's arguments and every other one kept (model,
        info, device, thresholds, tiling, max_pixels, bundled, provenance): the one way to derive a
        detector, e.g. ``det.replace(threshold=0.4)`` or ``det.replace(device="cpu")``.

        The new one shares this one's model unless `device` names another device, where it holds a copy of
        the model (this one is left as it is). ``threshold=None`` or ``image_thresholds=None`` mean the
        detector file's calibrated values, as in the constructor.

        Raises:
            TypeError: a change that is not an argument of the constructor.
        """
        names = [n for n in inspect.signature(Detector.__init__).parameters if n != "self"]
        unknown = sorted(set(changes) - set(names))
        if unknown:
            raise TypeError(f"Detector.replace: no such field {', '.join(unknown)} (fields: {', '.join(names)})")
        fields = {name: getattr(self, name) for name in names}  # each argument is kept as an attribute
        fields.update(changes)
        fields["device"] = resolve_device(fields["device"])
        if "model" not in changes and not _same_device(fields["device"], self.device):
            fields["model"] = copy.deepcopy(self.model)  # the shared model stays where it is
        model, info, device = fields.pop("model"), fields.pop("info"), fields.pop("device")
        return Detector(model, info, device, **fields)

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

    @property
    def overlap(self) -> int:
        """Tile overlap in pixels (the input pipeline's)."""
        return self.pipeline.overlap

    # --- inference ------------------------------------------------------------------------------
    def inference_mode_of(self, height: int, width: int) -> str:
        """How an image of this size is run: "native", "tiled", "resized" or "sam" (the input pipeline's)."""
        return self.pipeline.mode_of(height, width)

    def plan(self, images: Sequence[np.ndarray], batch_size: int = DEFAULT_BATCH_SIZE) -> Plan:
        """The model inputs of `images` and their batches (InputPipeline.plan)."""
        return self.pipeline.plan(images, batch_size)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """One model input batch on the device -> logits, as inference runs it (inference mode, autocast)."""
        with torch.inference_mode(), autocast(self.device):
            return self.model(batch)

    def heatmaps(
        self,
        images: Sequence[np.ndarray],
        batch_size: int = DEFAULT_BATCH_SIZE,
        *,
        sources: Sequence[str] | None = None,
        seconds: list[float] | None = None,
    ) -> list[np.ndarray]:
        """HxWx3 uint8 RGB arrays -> HxW float32 probability maps at each image's size.

        The input pipeline plans, batches and merges (the tiles of many images fill one batch, so
        throughput does not fall with the tile count); an image's result depends only on the list of
        images given.

        Every map is checked here, the one place deal's inference produces heatmaps: a map holding NaN or
        inf raises NonFiniteMapError naming the image (`sources`, else its position), whose `maps` keep the
        finite maps of the others.

        seconds: a list that receives each image's own share of the call's time (deal.inference.image_times;
        filled before NonFiniteMapError is raised).
        """
        clock = None
        if seconds is not None:
            sync = (lambda: torch.cuda.synchronize(self.device)) if self.device.type == "cuda" else None
            clock = ImageClock(len(images), sync)
        maps = self.pipeline.heatmaps(
            images,
            self.forward,
            batch_size=batch_size,
            device=self.device,
            on_batch=None if clock is None else clock.batch_done,
        )
        if clock is not None and seconds is not None:
            seconds[:] = clock.finish()
        bad = [i for i, m in enumerate(maps) if not np.isfinite(m).all()]
        if bad:
            names = [sources[i] if sources is not None else f"image {i + 1} of {len(maps)}" for i in bad]
            raise NonFiniteMapError(
                "; ".join(non_finite_message(name) for name in names),
                bad,
                [None if i in bad else m for i, m in enumerate(maps)],
            )
        return maps

    def predict(self, image: Any, threshold: float | None = None, views: Sequence[str] = ()) -> Detection:
        """One image -> Detection.

        Args:
            image: a path, a PIL image, an HxWx3 uint8 array, or a tensor (3xHxW or HxWx3, uint8 on 0-255 or
                float on [0, 1]).
            threshold: overrides the detector's pixel threshold (the mask); the verdict keeps
                image_thresholds.
            views: classic forensic views to compute too (deal.baselines.views: "ela", "noise", "jpeg",
                "spectral", "copymove"), in Detection.views; ValueError on an unknown name.

        Raises:
            ImageLoadError: the input cannot be read or decoded (the message names it and the problem).
            NonFiniteMapError: the detector produced NaN or inf in the heatmap (no score, no verdict).
        """
        names = check_view_names(views)
        loaded = load_any(image, max_pixels=self.max_pixels, provenance=self.provenance)
        (heatmap,) = self.heatmaps([loaded.array], sources=[loaded.source])
        return Detection.from_heatmap(
            heatmap,
            self.threshold if threshold is None else threshold,
            source=loaded.source,
            notes=loaded.notes,
            image_thresholds=self.image_thresholds,
            provenance=loaded.provenance,
            views=run_views(names, loaded.array),
        )

    def predict_many(
        self,
        items: Iterable[Any],
        batch_size: int = DEFAULT_BATCH_SIZE,
        workers: int = 0,
        *,
        threshold: float | None = None,
        on_error: str = "raise",
        views: Sequence[str] = (),
    ) -> Iterator[Detection]:
        """Streams one Detection per input, in input order, with bounded memory.

        Inputs are decoded ahead (at most two batches) by `workers` threads (0: in the calling thread).
        on_error="raise" raises ImageLoadError at the first unreadable input; "skip" leaves it out (its
        Detection is missing: use Detection.source, or run_detection for per-input error records). A heatmap
        with NaN or inf raises NonFiniteMapError whatever on_error says: it is the detector's failure, not
        the input's, and an image is never dropped for it.
        """
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        names = tuple(check_view_names(views))
        for outcome in stream_outcomes(
            self, windows_of(items, batch_size), batch_size=batch_size, workers=workers, threshold=threshold,
            views=names,
        ):
            if outcome.detection is not None:
                yield outcome.detection
            elif outcome.non_finite:
                raise NonFiniteMapError(outcome.error or non_finite_message(str(outcome.source)))
            elif on_error == "raise":
                raise ImageLoadError(outcome.error or "unknown error")
