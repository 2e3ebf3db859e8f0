"""The input pipeline: THE way an image reaches the model and its heatmap comes back, built from ModelConfig.

Like segment-anything's ``Sam.preprocess`` / ``postprocess_masks`` with ``ResizeLongestSide``, the model
owns it, and every layer calls it: the validation step, calibration, ``deal benchmark``, ``deal detect``
and the ``Detector`` API (which adds only the device, autocast and batching of inputs). So validation
tiles exactly as detection does.

- plan(): each image becomes model inputs ("pieces"): whole ("native", "sam"), overlapping windows of
  image_size pixels ("tiled", overlap image_size/8, a multiple of the patch), or resized so its longest
  side is image_size ("resized"); the policy (deal.modeling.policies) decides. Pieces are batched by
  their padded shape (the batch-shape key), whatever image they come from, so the tiles of many images
  fill one batch and an image's tensor never depends on the other images of its batch.
- to_batch(): pieces -> a normalized batch on the device (deal.modeling.input_policy.prepare_batch; the one
  resize of deal is F.interpolate bilinear, antialiased, down, and bilinear back up in restore).
- merge (Merger): model logits -> probabilities at each piece's original size (restore), then one
  full-resolution heatmap per image: tiles blended with a linear ramp (deal.modeling.tiling).
- training_crop(): the training crop side from image_size and the policy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from deal.modeling.config import ModelConfig
from deal.modeling.constants import DEFAULT_BATCH_SIZE
from deal.modeling.input_policy import Placement, prepare_batch, prepare_masks, restore
from deal.modeling.policies import get_policy
from deal.modeling.tiling import TileBlender, Window, tile_windows

__all__ = ["DEFAULT_BATCH_SIZE", "InputPipeline", "Merger", "Piece", "Plan", "default_overlap"]



def default_overlap(tile: int, patch: int = 16) -> int:
    """Tile overlap: an eighth of the tile, a multiple of the patch size, at least one patch."""
    return max(patch, (tile // 8) // patch * patch)


@dataclass(frozen=True)
class Piece:
    """One model input: image `image` of a plan, whole (window None) or one tile of it, and the size it is
    placed at inside the batch."""

    image: int
    window: Window | None
    pixels: np.ndarray  # HxWx3 uint8
    placed_hw: tuple[int, int]


@dataclass
class Plan:
    """The pieces of a list of images, the batches they run in (lists of piece indices), each image's
    mode ("native", "tiled", "resized" or "sam") and (height, width)."""

    pieces: list[Piece]
    batches: list[list[int]]
    modes: list[str]
    sizes: list[tuple[int, int]]


class InputPipeline:
    """Plans, batches and merges images for a model of `config` (see the module docstring).

    Args:
        config: the model's config (input policy, image size, patch size).
        tile: native policy: tile images larger than image_size (False: resize them).
    """

    def __init__(self, config: ModelConfig, *, tile: bool = True) -> None:
        self.config = config
        self.image_size = config.image_size
        self.patch_size = config.spec.patch_size
        self.policy = get_policy(config.input_policy, self.image_size, self.patch_size)
        self.tile = bool(tile)
        self.overlap = default_overlap(self.image_size, self.patch_size)

    # --- planning ---------------------------------------------------------------------------------
    def mode_of(self, height: int, width: int) -> str:
        """How an image of this size is run: "native", "tiled", "resized" or "sam"."""
        return self.policy.mode_of(height, width, self.tile)

    def windows(self, height: int, width: int) -> list[Window]:
        """The tiles of a tiled image (row-major)."""
        return tile_windows(height, width, tile=self.image_size, overlap=self.overlap)

    def plan(self, images: Sequence[np.ndarray], batch_size: int = DEFAULT_BATCH_SIZE) -> Plan:
        """The pieces of `images` (HxWx3 uint8 RGB arrays) and their batches: pieces with the same padded
        shape share batches of `batch_size`, groups in order of first appearance."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        pieces: list[Piece] = []
        modes, sizes = [], []
        for i, img in enumerate(images):
            if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
                raise ValueError(f"expected HxWx3 uint8 RGB arrays, got shape {img.shape} dtype {img.dtype}")
            h, w = img.shape[:2]
            mode = self.mode_of(h, w)
            modes.append(mode)
            sizes.append((h, w))
            if mode == "tiled":
                for win in self.windows(h, w):
                    pixels = img[win.y : win.y + win.h, win.x : win.x + win.w]
                    pieces.append(Piece(i, win, pixels, self.policy.placed_hw(win.h, win.w, "native")))
            else:
                pieces.append(Piece(i, None, img, self.policy.placed_hw(h, w, mode)))
        groups: dict[tuple[int, int], list[int]] = {}
        for j, piece in enumerate(pieces):
            groups.setdefault(self.policy.padded_hw(piece.placed_hw), []).append(j)
        batches = [m[s : s + batch_size] for m in groups.values() for s in range(0, len(m), batch_size)]
        return Plan(pieces, batches, modes, sizes)

    # --- batching ---------------------------------------------------------------------------------
    def to_batch(
        self, pieces: Sequence[Piece], device: torch.device | str = "cpu"
    ) -> tuple[torch.Tensor, list[Placement]]:
        """Pieces of one padded shape -> the model's normalized input batch on `device`, and placements."""
        arrays = [p.pixels for p in pieces]
        batch_input: np.ndarray | torch.Tensor | list = arrays
        if len(arrays) > 1 and all(a.shape == arrays[0].shape for a in arrays):
            batch_input = torch.from_numpy(np.stack(arrays))  # equal shapes: prepare_batch's vectorized path
        return prepare_batch(
            batch_input,
            policy=self.config.input_policy,
            image_size=self.image_size,
            patch_size=self.patch_size,
            device=device,
            placed=[p.placed_hw for p in pieces],
        )

    def whole_batch(
        self, images: Sequence[np.ndarray | torch.Tensor] | torch.Tensor, device: torch.device | str = "cpu"
    ) -> tuple[torch.Tensor, list[Placement]]:
        """Whole images (training crops: HxWx3 uint8, or one BxHxWx3 uint8 tensor) -> the model's input
        batch on `device`, each placed as the policy places a whole image, and placements."""
        return prepare_batch(
            images, policy=self.config.input_policy, image_size=self.image_size, patch_size=self.patch_size,
            device=device,
        )

    def targets(
        self, masks: Sequence[np.ndarray | torch.Tensor], pieces: Sequence[Piece], placements: Sequence[Placement],
        batch_hw: tuple[int, int],
    ) -> torch.Tensor:
        """The Bx1xH'xW' training targets of a batch of pieces, from the full images' HxW masks."""
        crops = []
        for p in pieces:
            m = masks[p.image]
            crops.append(m if p.window is None else m[p.window.y : p.window.y + p.window.h, p.window.x : p.window.x + p.window.w])
        return prepare_masks(crops, placements, batch_hw)

    # --- merging ----------------------------------------------------------------------------------
    def merger(self, plan: Plan) -> Merger:
        return Merger(self, plan)

    def heatmaps(
        self,
        images: Sequence[np.ndarray],
        forward: Callable[[torch.Tensor], torch.Tensor],
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        device: torch.device | str = "cpu",
        on_batch: Callable[[list[Piece], list[Placement], torch.Tensor], None] | None = None,
    ) -> list[np.ndarray]:
        """HxWx3 uint8 RGB arrays -> HxW float32 probability maps at each image's size.

        forward: batch -> Bx1xH'xW' logits (the caller's model, under its device, autocast and grad mode).
        on_batch(pieces, placements, logits): called after each forward (validation's loss).
        """
        plan = self.plan(images, batch_size)
        merger = self.merger(plan)
        for batch in plan.batches:
            pieces = [plan.pieces[j] for j in batch]
            x, placements = self.to_batch(pieces, device)
            logits = forward(x)
            if on_batch is not None:
                on_batch(pieces, placements, logits)
            merger.add(pieces, logits, placements)
        return merger.result()

    # --- training ---------------------------------------------------------------------------------
    def training_crop(self, data_side: int | None = None) -> int | None:
        """The training crop side (None: whole images, resized by the model), from image_size and the
        policy; data_side: the smallest side of the training images, when known."""
        return self.policy.training_crop(data_side)


class Merger:
    """Collects the logits of a plan's batches into one full-resolution probability map per image."""

    def __init__(self, pipeline: InputPipeline, plan: Plan) -> None:
        self.plan = plan
        self.out: list[np.ndarray | None] = [None] * len(plan.sizes)
        self.blenders = {
            i: TileBlender(*plan.sizes[i], tile=pipeline.image_size, overlap=pipeline.overlap)
            for i, mode in enumerate(plan.modes)
            if mode == "tiled"
        }

    def add(self, pieces: Sequence[Piece], logits: torch.Tensor, placements: Sequence[Placement]) -> None:
        """The Bx1xH'xW' logits of one batch of pieces: restored to each piece's size (resized back where it
        was resized), made probabilities, blended into their image."""
        for piece, logit in zip(pieces, restore(logits.float(), placements)):
            probs = torch.sigmoid(logit.cpu()).numpy()
            if piece.window is not None:
                self.blenders[piece.image].add(piece.window, probs)
            else:
                self.out[piece.image] = probs

    def result(self) -> list[np.ndarray]:
        for i, blender in self.blenders.items():
            self.out[i] = blender.result()
        return self.out  # type: ignore[return-value]
