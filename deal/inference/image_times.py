"""Each image's own share of the time of one Detector.heatmaps call, measured batch by batch.

Images are analysed together: the model inputs of several images (whole images, or the tiles of large
ones) share batches. An image's time is the time of the batches its inputs ran in, each batch's time
shared equally by the inputs in it (they have one padded shape, so one cost each). A batch's time runs from
the end of the previous batch to the end of its forward pass: preparing its inputs, the forward pass, and
merging the previous batch's logits into the heatmaps; before the first batch, planning the batches. What
follows the last batch (merging its logits) is shared equally by the images. The shares add up to the call's
time, so a small image analysed beside large ones gets a small time, not the average.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any


class ImageClock:
    """Collects the time of a heatmaps call per image: pass `batch_done` as the input pipeline's on_batch,
    then call `finish` once the heatmaps are merged.

    Args:
        n_images: the images of the call.
        sync: called before each batch's end is read (CUDA: waits for the forward pass to finish).
    """

    def __init__(self, n_images: int, sync: Callable[[], None] | None = None) -> None:
        self.seconds = [0.0] * n_images
        self._sync = sync
        self._last = time.perf_counter()

    def batch_done(self, pieces: Sequence[Any], placements: Any = None, logits: Any = None) -> None:
        """One batch ran: its time is shared by its `pieces` (objects with the index of their `image`)."""
        if self._sync is not None:
            self._sync()
        now = time.perf_counter()
        share = (now - self._last) / len(pieces)
        for piece in pieces:
            self.seconds[piece.image] += share
        self._last = now

    def finish(self) -> list[float]:
        """Each image's seconds, the time since the last batch shared equally."""
        tail = (time.perf_counter() - self._last) / max(1, len(self.seconds))
        return [s + tail for s in self.seconds]
