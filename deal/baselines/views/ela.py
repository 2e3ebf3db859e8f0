"""Error level analysis (ELA): re-save the image as JPEG at :data:`ELA_QUALITY` and measure, per pixel,
how much it changed. Pixels whose compression history matches the re-save change little; a region saved at
another quality (or never compressed, pasted into a JPEG) changes more than the rest (Krawetz, "A Picture's
Worth", Black Hat 2007; the first view of Forensically and FotoForensics).

Evidence: the largest per-channel absolute difference, averaged over an 8x8 box (one JPEG block), as
``log(1 + error)``; the map is :func:`~deal.baselines.views.common.outlier_map` of it (per image: relative
to the image's own median error level). Edges and fine texture change more under any re-save, so ELA also
lights up sharp detail: read it against the image.
"""

from __future__ import annotations

import cv2
import numpy as np

from deal.baselines.views.common import outlier_map, tiled

ELA_QUALITY = 90  # the JPEG quality of the re-save (Forensically's and FotoForensics' default)
BOX = 8  # averaging box, pixels (one JPEG block)
MIN_SPREAD = 0.2  # of log(1 + error): differences of error level under about 20% are not counted


def ela_error(image: np.ndarray, quality: int = ELA_QUALITY) -> np.ndarray:
    """Per pixel (float32 ``HxW``, 0-255 units): the largest per-channel absolute difference between the image
    and its JPEG re-save at ``quality`` (OpenCV's libjpeg, 4:2:0), averaged over a :data:`BOX` box."""
    bgr = cv2.cvtColor(np.ascontiguousarray(image[..., :3]), cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("OpenCV could not JPEG-encode the image")
    resaved = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    diff = cv2.absdiff(bgr, resaved).max(axis=2).astype(np.float32)
    return cv2.blur(diff, (BOX, BOX), borderType=cv2.BORDER_REFLECT)


def ela_view(image: np.ndarray) -> tuple[np.ndarray, None, None]:
    """The ELA view: ``(map, None, None)`` (score: the image score of the map; no note)."""
    error = tiled(ela_error, image, margin=16)
    return outlier_map(np.log1p(error), MIN_SPREAD), None, None
