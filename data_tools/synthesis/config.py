"""Settings of a ``deal data synth`` run (everything but the seed and the sources).

Importable without NumPy or OpenCV: the command line builds a :class:`SynthConfig` before any work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from deal_data_tools.synthesis.names import ALL_EDIT_NAMES, GENERATOR_EDIT_NAMES

__all__ = ["DEFAULT_GENERATOR_WEIGHTS", "DEFAULT_WEIGHTS", "PLACEMENTS", "SynthConfig"]

PLACEMENTS: tuple[str, ...] = ("object", "uniform")

DEFAULT_WEIGHTS: dict[str, float] = {
    "inpaint": 1.0,
    "resample": 1.0,
    "splice": 1.0,
    "copymove": 1.0,
    "color": 0.5,
    "texture": 0.5,
    "lowres": 1.0,
}
# Added to DEFAULT_WEIGHTS when a generator is given and no weights are.
DEFAULT_GENERATOR_WEIGHTS: dict[str, float] = dict.fromkeys(GENERATOR_EDIT_NAMES, 1.0)


@dataclass(frozen=True)
class SynthConfig:
    """Settings of the synthesis (everything but the seed and the sources).

    Attributes:
        size: side of the random square crop, or None to keep the whole (resized) photo.
        authentic_share: share of authentic (unedited) images, in [0, 1].
        weights: relative frequency of each edit operation (names from ``EDIT_NAMES``).
        scale_range: (min, max) of the log-uniform global resize factor. Below 1 only: real photos reach
            an editor downscaled (COCO is), so they keep their finest band; upsampled backgrounds would
            lack it everywhere and teach a detector to ignore the band that generated pixels miss.
        fraction_range: (min, max) edited fraction of the image; targets are log-uniform in it.
        placement: where regions go. ``"object"``: placed so that the region fits inside the frame where it
            can (large regions then sit near the centre, as objects in photos do); ``"uniform"``: the region is
            then shifted by a uniform random offset with wrap-around, so that every pixel, borders included,
            is equally likely to be edited (the mean mask is flat; :data:`PLACEMENTS`). A detector trained on
            object placement can learn "centre = edited"; uniform placement makes position carry no label.
        jpeg_prob: probability of JPEG recompression after the edit.
        jpeg_quality: (min, max) JPEG quality, inclusive.
        feather_prob: probability of a feathered rather than a hard blending alpha.
        min_change: minimum mean absolute change inside the mask (grey levels) of an accepted edit.
        max_attempts: redraws of region + operation before giving up on an image.
        generator: folder of the TAEF2 autoencoder for the generator edits (``GENERATOR_EDIT_NAMES``),
            or None (those edits then need weight 0).
        authentic_regen: share of the authentic images that go through a full round trip of the
            generator (label 0, empty mask), so that "decoder traces everywhere" is not by itself "edited".
            Needs ``generator``.
    """

    size: int | None = None
    authentic_share: float = 0.2
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    scale_range: tuple[float, float] = (0.3, 1.0)
    fraction_range: tuple[float, float] = (0.01, 0.60)
    jpeg_prob: float = 0.5
    jpeg_quality: tuple[int, int] = (60, 100)
    feather_prob: float = 0.7
    min_change: float = 2.0
    max_attempts: int = 12
    generator: str | None = None
    authentic_regen: float = 0.0
    placement: str = "object"

    def __post_init__(self) -> None:
        if self.size is not None and self.size < 16:
            raise ValueError(f"size must be >= 16 pixels, got {self.size}")
        if not 0.0 <= self.authentic_share <= 1.0:
            raise ValueError(f"authentic_share must be in [0, 1], got {self.authentic_share}")
        unknown = sorted(set(self.weights) - set(ALL_EDIT_NAMES))
        if unknown:
            raise ValueError(f"unknown edit(s) {', '.join(unknown)}; valid: {', '.join(ALL_EDIT_NAMES)}")
        needs = sorted(n for n in GENERATOR_EDIT_NAMES if self.weights.get(n, 0.0) > 0)
        if needs and self.generator is None:
            raise ValueError(f"edit(s) {', '.join(needs)} need a generator (--generator DIR)")
        if any(w < 0 for w in self.weights.values()) or not any(w > 0 for w in self.weights.values()):
            raise ValueError(f"edit weights must be >= 0 with at least one > 0, got {dict(self.weights)}")
        lo, hi = self.fraction_range
        if not 0.0 < lo < hi <= 1.0:
            raise ValueError(f"fraction_range must satisfy 0 < min < max <= 1, got {self.fraction_range}")
        qlo, qhi = self.jpeg_quality
        if not 1 <= qlo <= qhi <= 100:
            raise ValueError(f"jpeg_quality must satisfy 1 <= min <= max <= 100, got {self.jpeg_quality}")
        if not 0.0 <= self.authentic_regen <= 1.0:
            raise ValueError(f"authentic_regen must be in [0, 1], got {self.authentic_regen}")
        if self.authentic_regen > 0 and self.generator is None:
            raise ValueError("authentic_regen needs a generator (--generator DIR)")
        if self.placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {', '.join(PLACEMENTS)}, got {self.placement!r}")
        slo, shi = self.scale_range
        if not 0.0 < slo <= shi:
            raise ValueError(f"scale_range must satisfy 0 < min <= max, got {self.scale_range}")
        if not 0.0 <= self.jpeg_prob <= 1.0:
            raise ValueError(f"jpeg_prob must be in [0, 1], got {self.jpeg_prob}")
