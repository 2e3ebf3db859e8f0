"""JPEG compression traces: quantization tables, the quality they correspond to, chroma subsampling, and an
indication of double compression.

Quality: libjpeg (and so Pillow, most cameras' and editors' encoders) scales the example tables of the
JPEG standard (ITU T.81 Annex K) by the IJG formula; a file whose tables equal that scaling for some
quality q was saved at quality q exactly ("quality_exact": true). Other encoders (cameras with their own
tables, Photoshop's 0-12 scale) use tables of another shape, for which no IJG quality is "the" quality:
they are reported as non-standard tables, with the IJG quality whose tables are closest and how far they
are (the mean absolute difference of the quantization steps), never as a bare number that looks exact.

Double compression (a heuristic): when a JPEG is decoded and saved again as JPEG, the DCT coefficients
of the second file are quantized twice; if the first quantization step was coarser than the second, the
histogram of a coefficient, in units of the last step, has periodic empty or depleted bins instead of
the smooth decay of a single compression (Lukas and Fridrich 2003; Popescu and Farid 2004). The reader
recomputes the 8x8 DCT of the decoded luminance (a bounded central crop, aligned to the block grid),
divides it by the file's own table and measures, over nine low-frequency coefficients whose last step is
at least 2, how far each histogram is from monotonic decay. It cannot see a first compression at a finer
step than the last one, cropping or resizing between the two compressions destroys the trace, and above
quality 95 the steps are too fine to measure (null). docs/provenance.md gives the rates measured on
photographs (benchmarks/double_jpeg.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image, JpegImagePlugin

from deal.provenance.limits import MAX_PIXEL_CROP

# ITU T.81 Annex K.1 (luminance) and K.2 (chrominance), natural (row-major) order, as Pillow reports them.
ANNEX_K_LUMA = (
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
)  # fmt: skip
ANNEX_K_CHROMA = (
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99,
    *(99,) * 32,
)  # fmt: skip
SUBSAMPLING = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}
# Double compression is indicated when the mean depletion score of the low-frequency histograms is above
# this (single compressions of natural and synthetic images score below 0.05; a first compression at a
# coarser step than the last scores 0.15 and more). A heuristic threshold: see the module docstring.
DOUBLE_COMPRESSION_THRESHOLD = 0.1
# The AC coefficients examined (row, column of the 8x8 block): the first _EXAMINED, in zigzag order among
# positions 1-20, whose step is at least 2 (a step of 1 leaves no room for a coarser first step to show).
# At quality 90 and below these are zigzag positions 1-9; at 95, where the lowest steps are 1, the next
# ones up.
_ZIGZAG = (
    (0, 1), (1, 0), (2, 0), (1, 1), (0, 2), (0, 3), (1, 2), (2, 1), (3, 0), (4, 0),
    (3, 1), (2, 2), (1, 3), (0, 4), (0, 5), (1, 4), (2, 3), (3, 2), (4, 1), (5, 0),
)  # fmt: skip
_EXAMINED = 9
_MIN_BLOCKS = 256  # fewer blocks than this: too few samples for a histogram


def ijg_table(base: tuple[int, ...], quality: int, force_baseline: bool = True) -> np.ndarray:
    """libjpeg's jpeg_quality_scaling + jpeg_add_quant_table: base table -> the table of `quality` (1-100)."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    table = (np.asarray(base, dtype=np.int64) * scale + 50) // 100
    return np.clip(table, 1, 255 if force_baseline else 32767)


def estimate_quality(tables: dict[int, list[int]]) -> tuple[int | None, bool, float | None]:
    """(IJG quality 1-100 whose tables are closest, whether they match exactly, the mean absolute
    difference of the steps from those tables); (None, False, None) if there is no table. Luminance and
    chrominance (the first two tables) are compared entry by entry."""
    if not tables:
        return None, False, None
    luma = np.asarray(tables[min(tables)], dtype=np.int64)
    chroma = np.asarray(tables[sorted(tables)[1]], dtype=np.int64) if len(tables) > 1 else None
    entries = luma.size + (chroma.size if chroma is not None else 0)
    best, best_err = None, None
    for q in range(1, 101):
        err = int(np.abs(ijg_table(ANNEX_K_LUMA, q) - luma).sum())
        if chroma is not None:
            err += int(np.abs(ijg_table(ANNEX_K_CHROMA, q) - chroma).sum())
        if best_err is None or err < best_err:
            best, best_err = q, err
    return best, best_err == 0, round(best_err / entries, 2)


def _dct_matrix() -> np.ndarray:
    k = np.arange(8)
    m = np.cos((2 * k[None, :] + 1) * k[:, None] * np.pi / 16) * np.sqrt(2 / 8)
    m[0] /= np.sqrt(2)
    return m


def _luma_blocks(img: Image.Image) -> np.ndarray | None:
    """The 8x8 DCT coefficients (N x 8 x 8) of a block-aligned central crop of the decoded luminance."""
    w, h = img.size
    ch, cw = min(h, MAX_PIXEL_CROP) // 8 * 8, min(w, MAX_PIXEL_CROP) // 8 * 8
    if ch * cw // 64 < _MIN_BLOCKS:
        return None
    top, left = (h - ch) // 2 // 8 * 8, (w - cw) // 2 // 8 * 8  # stay on the file's 8x8 grid
    region = img.crop((left, top, left + cw, top + ch))
    y = np.asarray(region.convert("YCbCr"))[..., 0] if region.mode != "L" else np.asarray(region)
    crop = y.astype(np.float64) - 128.0
    blocks = crop.reshape(ch // 8, 8, cw // 8, 8).transpose(0, 2, 1, 3).reshape(-1, 8, 8)
    d = _dct_matrix()
    return d @ blocks @ d.T


def _depletion(values: np.ndarray) -> float | None:
    """How far the histogram of |round(values)| (bins 1..) is from decaying monotonically: the mass that
    a bin lacks relative to the next one, summed and normalised. ~0 for one compression; large when
    periodic bins are depleted. None when the coefficient is almost always 0 or 1 (no histogram to read)."""
    k = np.abs(np.rint(values)).astype(np.int64)
    counts = np.bincount(k[k >= 1], minlength=12)[1:12].astype(np.float64)
    total = counts.sum()
    if total < 100 or np.count_nonzero(counts[1:]) < 2 and counts[1:].sum() < 50:
        return None
    deficit = np.clip(counts[1:] - counts[:-1], 0, None)  # a bin higher than the one before it
    return float(deficit.sum() / total)


def double_compression(img: Image.Image, luma_table: list[int]) -> dict[str, Any]:
    """{"indicated": bool | None, "score": float | None, "method": str} (None: too little to measure)."""
    method = "DCT histogram periodicity (heuristic)"
    blocks = _luma_blocks(img)
    if blocks is None:
        return {"indicated": None, "score": None, "method": method}
    q = np.asarray(luma_table, dtype=np.float64).reshape(8, 8)
    scores = []
    for r, c in [(r, c) for r, c in _ZIGZAG if q[r, c] >= 2][:_EXAMINED]:
        s = _depletion(blocks[:, r, c] / q[r, c])
        if s is not None:
            scores.append(s)
    if len(scores) < 3:
        return {"indicated": None, "score": None, "method": method}
    score = float(np.mean(scores))
    return {"indicated": score > DOUBLE_COMPRESSION_THRESHOLD, "score": round(score, 4), "method": method}


def read_jpeg(img: Image.Image) -> dict[str, Any] | None:
    """The JPEG section of a file's provenance (None for other formats); `img` is the opened file."""
    if img.format != "JPEG":
        return None
    tables = {int(k): [int(v) for v in t] for k, t in (getattr(img, "quantization", None) or {}).items()}
    quality, exact, distance = estimate_quality(tables)
    try:
        sampling = SUBSAMPLING.get(JpegImagePlugin.get_sampling(img), "other")
    except Exception:  # noqa: BLE001 - a malformed frame header
        sampling = None
    if img.mode in ("L", "1"):
        sampling = "grayscale"
    section: dict[str, Any] = {
        "quality": quality,
        "quality_exact": exact,
        "tables": None if quality is None else ("IJG" if exact else "non-standard"),
        "quality_distance": distance,
        "subsampling": sampling,
        "progressive": bool(img.info.get("progressive") or img.info.get("progression")),
        "quantization_tables": {str(k): v for k, v in sorted(tables.items())},
        "double_compression": {
            "indicated": None,
            "score": None,
            "method": "DCT histogram periodicity (heuristic)",
        },
    }
    if tables:
        section["double_compression"] = double_compression(img, tables[min(tables)])
    return section
