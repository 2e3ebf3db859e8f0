"""The "sam" policy (segment-anything's Sam.preprocess): the longest side resized to image_size, the image
padded bottom-right to a square; every image is one model input, never tiled. Training sees whole
images, resized by the model's preprocessing."""

from __future__ import annotations

from deal.modeling.policies.base import InputPolicy, longest_side_hw


class SamPolicy(InputPolicy):
    name = "sam"

    def mode_of(self, h: int, w: int, tile: bool) -> str:
        return "sam"

    def placed_hw(self, h: int, w: int, mode: str) -> tuple[int, int]:
        return longest_side_hw(h, w, self.image_size)

    def padded_hw(self, placed: tuple[int, int]) -> tuple[int, int]:
        return self.image_size, self.image_size
