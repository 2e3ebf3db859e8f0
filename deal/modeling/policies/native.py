"""The "native" policy: no resampling. An input is normalized and padded bottom-right to a multiple of the
patch size (the encoder interpolates its position embeddings to the token grid). An image larger than
image_size is tiled at this resolution, or (without tiling) resized so its longest side is image_size."""

from __future__ import annotations

from deal.modeling.policies.base import InputPolicy, longest_side_hw, round_up


class NativePolicy(InputPolicy):
    name = "native"

    def mode_of(self, h: int, w: int, tile: bool) -> str:
        if h <= self.image_size and w <= self.image_size:
            return "native"
        return "tiled" if tile else "resized"

    def placed_hw(self, h: int, w: int, mode: str) -> tuple[int, int]:
        return longest_side_hw(h, w, self.image_size) if mode == "resized" else (int(h), int(w))

    def padded_hw(self, placed: tuple[int, int]) -> tuple[int, int]:
        return round_up(placed[0], self.patch_size), round_up(placed[1], self.patch_size)

    def training_crop(self, data_side: int | None = None) -> int:
        """Crops of at most image_size (the tile inference runs), no larger than the smallest training
        image (so batches share one shape), a multiple of the patch size, at least two patches."""
        side = self.image_size if data_side is None else min(self.image_size, int(data_side))
        return max(2 * self.patch_size, side // self.patch_size * self.patch_size)
