"""The smallest image a detector can say something about, and the note an image below it gets.

The encoder sees an image as 16x16-pixel patches (ModelConfig.patch_size, 16 for every SAM size and the
tiny encoder): an image with a side under one patch is padded to a patch that is mostly padding, so
its heatmap and verdict rest on a few real pixels. Such images are still analysed; their record and
Detection carry this note.
"""

from __future__ import annotations

MIN_ANALYSABLE_SIDE = 16  # one encoder patch


def small_image_notes(height: int, width: int) -> list[str]:
    """[note] when a side is under MIN_ANALYSABLE_SIDE pixels, else []."""
    if min(height, width) >= MIN_ANALYSABLE_SIDE:
        return []
    return [
        f"image is {width}x{height}: below the minimum analysable size ({MIN_ANALYSABLE_SIDE} px a side, one "
        "patch of the encoder); the heatmap and verdict rest on too few pixels to mean much"
    ]
