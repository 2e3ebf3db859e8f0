"""JPEG block-grid alignment: a JPEG's pixels carry an 8x8 grid of block boundaries where neighbouring
pixels differ more than inside a block. Over an authentic JPEG that grid has one position (phase); a region
pasted from another JPEG keeps its own grid, usually at another phase (Li, Yuan and Yu, "Passive detection
of doctored JPEG image via block artifact grid extraction", Signal Processing 2009; the block-artifact-grid
view of InVID/WeVerify's plugin).

Per direction (across columns, across rows), each neighbour difference is marked when it is the largest of
the 8 consecutive differences around it (texture and contrast cancel: only where the largest step of a
block-long run falls counts). Without a grid every phase is marked at the same rate, 1/8; the image's grid
phase is the one marked most over the whole image. Locally, over a :data:`WINDOW`-pixel box, the evidence is
how far the most-marked OTHER phase's rate stands above the image's phase's rate (the larger of the two
directions); the map is :func:`~deal.baselines.views.common.outlier_map` of it.

Not applicable (no map, a note) where the pixels carry no grid: the image's phase marked less than
:data:`MIN_GRID_CONTRAST` above the median phase's rate in either direction (a PNG never JPEG-compressed, a
JPEG resized since, a quality near 100). Measured limits: a final re-save at quality 90 over the paste
weakens the local evidence; textured areas carry little of it.
"""

from __future__ import annotations

import cv2
import numpy as np

from deal.baselines.views.common import luma, outlier_map, tiled

BLOCK = 8
WINDOW = 32  # local window, pixels
MIN_SPREAD = 0.03  # of a rate difference: about the sampling noise of a phase's rate over one window
MIN_GRID_CONTRAST = 0.25  # the image's phase must be marked this much (relative) above the median phase
NOT_APPLICABLE = (
    "not applicable: the pixels carry no 8x8 JPEG block grid (not a JPEG, or resized or saved near "
    "quality 100 since)"
)


def block_maxima(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float32 HxW 0/1 marks of the neighbour differences (across columns, across rows) that are the largest
    of the 8 consecutive ones around them and above half a gray level (flat runs mark nothing)."""
    marks = []
    for axis in (1, 0):
        d = np.abs(np.diff(gray, axis=axis)).astype(np.float32)
        kernel = np.ones((1, BLOCK) if axis == 1 else (BLOCK, 1), np.uint8)
        anchor = (BLOCK // 2 - 1, 0) if axis == 1 else (0, BLOCK // 2 - 1)
        largest = cv2.dilate(d, kernel, anchor=anchor, borderType=cv2.BORDER_REFLECT)
        mark = ((d >= largest) & (d > 0.5)).astype(np.float32)
        marks.append(np.pad(mark, ((0, 0), (0, 1)) if axis == 1 else ((0, 1), (0, 0))))
    return marks[0], marks[1]


def grid_profile(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mark rate of each of the 8 phases across columns and across rows (two float64 arrays of 8)."""
    mx, my = block_maxima(luma(image))
    lines = (mx[:, :-1].mean(axis=0, dtype=np.float64), my[:-1, :].mean(axis=1, dtype=np.float64))
    return tuple(np.array([line[k::BLOCK].mean() if line[k::BLOCK].size else 0.0 for k in range(BLOCK)]) for line in lines)


def grid_contrast(profile: np.ndarray) -> float:
    """How far the most-marked phase of one direction stands above the median phase, relative to it."""
    median = float(np.median(profile))
    return float(profile.max()) / median - 1.0 if median > 0 else 0.0


def _local_rates(marks: np.ndarray, axis: int) -> np.ndarray:
    """8xHxW: the local mark rate of each phase (columns for axis 1, rows for axis 0) over a WINDOW box."""
    index = np.arange(marks.shape[axis]) % BLOCK
    out = np.empty((BLOCK, *marks.shape), np.float32)
    for p in range(BLOCK):
        keep = (index == p).astype(np.float32)
        selected = marks * (keep[None, :] if axis == 1 else keep[:, None])
        out[p] = cv2.blur(selected, (WINDOW, WINDOW), borderType=cv2.BORDER_REFLECT) * BLOCK
    return out


def misaligned_grid_evidence(image: np.ndarray, phases: tuple[int, int]) -> np.ndarray:
    """Per pixel: the local rate of the most-marked phase other than the image's minus the image's phase's
    rate, the larger of the two directions (float32; 0 or below where the image's own grid dominates)."""
    mx, my = block_maxima(luma(image))
    evidence = np.full(mx.shape, -1.0, np.float32)
    for marks, axis, phase in ((mx, 1, phases[0]), (my, 0, phases[1])):
        rates = _local_rates(marks, axis)
        own = rates[phase].copy()
        rates[phase] = -1.0
        np.maximum(evidence, rates.max(axis=0) - own, out=evidence)
    return evidence


def jpeg_view(image: np.ndarray) -> tuple[np.ndarray | None, float | None, str | None]:
    """The JPEG-grid view: ``(map, None, None)``, or ``(None, None, note)`` where no grid is found. Tiles keep
    the phase: they start at multiples of 16 pixels."""
    cols, rows = grid_profile(image)
    contrast = min(grid_contrast(cols), grid_contrast(rows))
    if contrast < MIN_GRID_CONTRAST:
        return None, None, f"{NOT_APPLICABLE}; grid contrast {contrast:.2f} < {MIN_GRID_CONTRAST}"
    phases = (int(cols.argmax()), int(rows.argmax()))
    evidence = tiled(lambda part: misaligned_grid_evidence(part, phases), image, margin=32)
    return outlier_map(evidence, MIN_SPREAD), None, None
