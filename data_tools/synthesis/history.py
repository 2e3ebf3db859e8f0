"""The processing history applied to the WHOLE image, edited and authentic alike.

Before the edit: a global resize by a log-uniform factor with a random resampling kernel, then
(optionally) a random ``size x size`` crop; after the edit: optional JPEG recompression. Because both
classes go through the same random history, nothing but the local edit tells them apart.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from deal_data_tools.synthesis.names import GLOBAL_KERNELS

__all__ = ["GLOBAL_KERNELS", "INTERPOLATION", "decode_jpeg", "encode_jpeg", "global_resample"]

INTERPOLATION: dict[str, int] = {
    "nearest": cv2.INTER_NEAREST,
    "linear": cv2.INTER_LINEAR,
    "area": cv2.INTER_AREA,
    "cubic": cv2.INTER_CUBIC,
    "lanczos": cv2.INTER_LANCZOS4,
}


def global_resample(
    photo: np.ndarray,
    rng: np.random.Generator,
    size: int | None,
    scale_range: tuple[float, float],
) -> tuple[np.ndarray, str]:
    """Resize ``photo`` by a log-uniform factor with a random kernel, then random-crop ``size x size``.

    With ``size`` the factor is raised where needed so that the short side covers ``size`` (small
    photos are resized up, never padded), and only the window that survives the crop is resampled.

    Args:
        photo: ``HxWx3 uint8`` RGB.
        rng: random generator (consumed: factor, kernel, crop offset).
        size: crop side in pixels, or None to keep the whole resized photo.
        scale_range: (min, max) of the log-uniform resize factor.

    Returns:
        (``H'xW'x3 uint8`` image, history step like ``"scale:cubic@0.842|crop:256"``).
    """
    h, w = photo.shape[:2]
    scale = math.exp(rng.uniform(math.log(scale_range[0]), math.log(scale_range[1])))
    kernel = str(rng.choice(GLOBAL_KERNELS))
    if size is None:
        out_w, out_h = max(1, round(w * scale)), max(1, round(h * scale))
        image = cv2.resize(photo, (out_w, out_h), interpolation=INTERPOLATION[kernel])
        return image, f"scale:{kernel}@{scale:.3f}"
    scale = max(scale, size / min(h, w))
    # Resample only a random source window that covers the crop (plus a margin for the kernel's
    # support), then cut the crop from its interior: the same pixels as resizing the whole photo
    # and cropping, at a cost that does not grow with the photo.
    margin = 4
    win_w = min(w, math.ceil(size / scale) + 2 * margin)
    win_h = min(h, math.ceil(size / scale) + 2 * margin)
    sx0, sy0 = int(rng.integers(0, w - win_w + 1)), int(rng.integers(0, h - win_h + 1))
    window = photo[sy0 : sy0 + win_h, sx0 : sx0 + win_w]
    out_w, out_h = max(size, round(win_w * scale)), max(size, round(win_h * scale))
    resized = cv2.resize(window, (out_w, out_h), interpolation=INTERPOLATION[kernel])
    ox, oy = (out_w - size) // 2, (out_h - size) // 2
    image = resized[oy : oy + size, ox : ox + size]
    return np.ascontiguousarray(image), f"scale:{kernel}@{scale:.3f}|crop:{size}"


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    """Baseline JPEG bytes of an ``HxWx3 uint8`` RGB image at ``quality`` (libjpeg via OpenCV)."""
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def decode_jpeg(data: bytes) -> np.ndarray:
    """Decode JPEG bytes to ``HxWx3 uint8`` RGB."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("cannot decode JPEG bytes")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
