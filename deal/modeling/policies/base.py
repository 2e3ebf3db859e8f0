"""What an input policy decides: how an image is run (whole, tiled, resized), the size it is placed at
inside the batch, the padded shape it shares a batch with, and the training crop."""

from __future__ import annotations

from typing import ClassVar

POLICIES: dict[str, type[InputPolicy]] = {}


def round_up(v: int, m: int) -> int:
    """The smallest multiple of m that is >= v."""
    return -(-v // m) * m


def longest_side_hw(h: int, w: int, image_size: int) -> tuple[int, int]:
    """SAM's longest-side resize (ResizeLongestSide): the (height, width) an image of h x w gets."""
    scale = image_size / max(h, w)
    return max(1, int(h * scale + 0.5)), max(1, int(w * scale + 0.5))


class InputPolicy:
    """One input policy for a model of `image_size` pixels and `patch_size` px patches.

    Subclasses set `name` (they register under it) and implement mode_of, placed_hw and padded_hw.
    Modes: "native" (whole, unresampled), "tiled" (windows of image_size, blended back), "resized"
    (longest side to image_size, logits resized back), "sam" (SAM's resize and square padding).
    """

    name: ClassVar[str]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        POLICIES[cls.name] = cls

    def __init__(self, image_size: int, patch_size: int = 16) -> None:
        self.image_size, self.patch_size = int(image_size), int(patch_size)

    def mode_of(self, h: int, w: int, tile: bool) -> str:
        """How an h x w image is run (tile: whether images too large for the model may be tiled)."""
        raise NotImplementedError

    def placed_hw(self, h: int, w: int, mode: str) -> tuple[int, int]:
        """The size a model input of h x w (a whole image or a tile) has inside the batch, before padding."""
        raise NotImplementedError

    def padded_hw(self, placed: tuple[int, int]) -> tuple[int, int]:
        """The padded batch shape of one placed input: inputs with equal padded shapes may share a batch
        and each still reaches the model as the identical tensor it would get alone."""
        raise NotImplementedError

    def training_crop(self, data_side: int | None = None) -> int | None:
        """The side of the training crops (None: whole images, resized by the model). data_side: the
        smallest side of the training images, when known."""
        return None
