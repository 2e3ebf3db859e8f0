"""Image perturbations for robustness benchmarks: pure functions on ``HxWx3`` uint8 RGB arrays.

=========  =================  ===============================================================
kind       strength           what it does
=========  =================  ===============================================================
jpeg       quality 1-100      JPEG encode + decode with OpenCV (4:2:0 chroma, libjpeg defaults)
resize     factor > 0         resize by the factor (area kernel when shrinking, bilinear when
                              enlarging); the benchmark resizes the predicted map back to the
                              original size bilinearly, so metrics use the original GT
blur       sigma > 0 (px)     Gaussian blur, kernel size chosen by OpenCV from sigma
noise      sigma >= 0 (0-255) additive Gaussian noise, rounded and clipped to uint8, seeded
=========  =================  ===============================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np


def jpeg(image: np.ndarray, quality: float) -> np.ndarray:
    """JPEG-compress at ``quality`` (1-100) and decode. ``HxWx3`` uint8 RGB -> same."""
    ok, data = cv2.imencode(
        ".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    )
    if not ok:
        raise RuntimeError(f"OpenCV could not JPEG-encode a {image.shape} image")
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def resize(image: np.ndarray, factor: float) -> np.ndarray:
    """Resize by ``factor`` (each side rounded, at least 1 px): area kernel down, bilinear up."""
    h, w = image.shape[:2]
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR)


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with standard deviation ``sigma`` pixels."""
    return cv2.GaussianBlur(image, (0, 0), sigmaX=float(sigma), sigmaY=float(sigma))


def noise(image: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    """Add Gaussian noise of standard deviation ``sigma`` (0-255 units), reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    noisy = image.astype(np.float32) + rng.normal(0.0, float(sigma), size=image.shape).astype(np.float32)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


# kind -> (function, check of the strength, what the strength is)
PERTURBATIONS: dict[str, tuple[Callable[..., np.ndarray], Callable[[float], bool], str]] = {
    "jpeg": (jpeg, lambda q: 1 <= q <= 100 and float(q).is_integer(), "an integer quality in 1-100"),
    "resize": (resize, lambda f: f > 0, "a factor > 0"),
    "blur": (blur, lambda s: s > 0, "a sigma > 0 in pixels"),
    "noise": (noise, lambda s: s >= 0, "a sigma >= 0 in 0-255 units"),
}


@dataclass(frozen=True)
class Perturbation:
    """One perturbation at one strength; ``kind="none"`` leaves the image as it is."""

    kind: str
    strength: float | None = None

    def __post_init__(self) -> None:
        if self.kind == "none":
            return
        if self.kind not in PERTURBATIONS:
            raise ValueError(f"unknown perturbation {self.kind!r}; choose one of {', '.join(PERTURBATIONS)}")
        _, valid, expected = PERTURBATIONS[self.kind]
        if self.strength is None or not valid(self.strength):
            raise ValueError(f"{self.kind} strength must be {expected}, got {self.strength}")

    @property
    def label(self) -> str:
        """``"none"`` or ``"kind=strength"`` (``"jpeg=90"``, ``"resize=0.5"``)."""
        return "none" if self.kind == "none" else f"{self.kind}={self.strength:g}"

    def apply(self, image: np.ndarray, seed: int = 0) -> np.ndarray:
        """The perturbed ``HxWx3`` uint8 image (``seed`` is used by ``noise`` only)."""
        if self.kind == "none":
            return image
        fn = PERTURBATIONS[self.kind][0]
        if self.kind == "noise":
            return fn(image, self.strength, seed=seed)
        return fn(image, self.strength)


NONE = Perturbation("none")


def parse_perturbation(spec: str) -> list[Perturbation]:
    """``"jpeg=90,70,50"`` -> three :class:`Perturbation` objects, in the order given.

    Raises:
        ValueError: unknown kind (valid ones listed), malformed or out-of-range strengths.
    """
    kind, sep, values = spec.partition("=")
    kind = kind.strip().lower()
    if not sep or not values.strip():
        raise ValueError(
            f"--perturb expects KIND=S1,S2,... (kinds: {', '.join(PERTURBATIONS)}), got {spec!r}"
        )
    try:
        strengths = [float(v) for v in values.split(",") if v.strip()]
    except ValueError as err:
        raise ValueError(f"--perturb {spec!r}: strengths must be numbers") from err
    return [Perturbation(kind, s) for s in strengths]
