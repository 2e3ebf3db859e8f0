"""``deal data pairs``: the edited-region mask of (original, edited) image pairs.

This is how DEAL-300K's masks came about (change detection on instruction-edit pairs), with a
classical method in place of SAM-CD. One method, six parameters (:class:`MaskParams`):

1. **Alignment of sizes.** If the original's size differs from the edited image's, the original is
   resized to the edited size (``INTER_AREA`` when shrinking, ``INTER_CUBIC`` otherwise) and the
   summary says so (``resized = 1``). The mask always has the edited image's size. (The CoCoGlide
   and DEAL-300K fixtures need no resizing: their pairs have equal sizes.)
2. **Difference.** Both images go to CIELAB (float, L in [0, 100]) and are smoothed by a Gaussian of
   ``sigma`` pixels *before* differencing, so zero-mean re-rendering noise (InstructPix2Pix
   regenerates every pixel through its VAE, JPEG re-encodes blocks) cancels while a semantic change
   survives; the difference is the per-pixel colour distance deltaE (CIE76).
   ``structure_weight`` > 0 adds ``100 * (1 - SSIM)`` of the smoothed L channels; it is off by
   default because on both fixtures it lowered IoU (regenerated textures differ structurally
   everywhere; see the measurements below).
3. **Threshold relative to the background.** Most pixels of a pair are unedited, so the histogram of
   the smoothed difference peaks at the background difference level and the edit forms a long tail.
   The triangle method (``skimage.filters.threshold_triangle``, 256 bins) cuts where the tail leaves
   the line from that peak to the maximum: it adapts to the background level of each pair (~0 for
   GLIDE inpainting that keeps the background bit-exact, a few deltaE for InstructPix2Pix) and, unlike
   median + k * MAD, still works when the edit covers most of the image (CoCoGlide's 97% table). The
   cut is never below ``floor`` (deltaE 2, about one just-noticeable difference). Smoothing widens a
   strong edit's boundary by a few pixels, so a pixel must also exceed ``refine`` times the threshold
   on the *unsmoothed* difference: smoothing decides where the edit is, the raw difference its outline.
4. **Clean-up.** Morphological opening then closing with a disc of ``radius`` pixels, holes filled,
   connected components smaller than ``min_area`` of the image removed.

Measured, per-image IoU against the official masks, default parameters: CocoGlide dev subset (16
pairs) mean 0.949 (min 0.854); DEAL-300K fixture (3 pairs) 0.891 / 0.293 / 0.913, mean 0.699 (a plain
RGB difference with Otsu's threshold scores about 0.19 there). Without smoothing (``sigma`` 0)
CocoGlide reaches 0.958 but a re-rendered pair (fine texture, 1 px shift, blur, noise) drops from
0.97 to under 0.1; without ``refine`` CocoGlide is 0.932; ``structure_weight`` 0.1 gives 0.926 / 0.699
(one CocoGlide pair falls to 0.38); ``sigma`` 2 gives 0.911 / 0.696.
The 0.29 pair (``000000000459``, a moustache added) has a whole-face mask while the pixels changed
mostly around the mouth, plus a slightly shifted background: its mask is semantic, not photometric.

Pairing (``--pairs`` absent): every image under ``--edited`` is matched to one under ``--src``
(both searched recursively), by the first rule that applies:

1. same stem;
2. the edited stem is an original stem plus a suffix after ``_``, ``-``, ``.`` or a space
   (``000000000009_qwen120`` -> ``000000000009``); the longest such original stem wins;
3. numeric id: the digit runs of the edited stem, last first, against the *last* digit run of each
   original stem, compared as integers (``glide_inpainting_val2017_133778_up`` -> ``cow_133778``,
   also ``000000133778``); the first id that names exactly one original wins, two or more is
   ambiguous.

A file never pairs with itself, so ``--src`` and ``--edited`` may be the same folder (DEAL-300K
keeps both in ``train/``): a file that pairs with nothing but is itself the original of a pair is
skipped, and an unmatched file that is also under ``--src`` is reported but not counted as a failure.

Outputs under ``--out``: ``<edited stem>.png`` (mode L, 0/255, 255 = edited), written atomically,
and ``pairs.csv`` (original, edited, mask, width, height, resized, edited_fraction, threshold,
background, status).
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

# NumPy, OpenCV and scikit-image are imported inside the functions: ``deal --help`` calls
# add_arguments() and must not pay for them.

__all__ = [
    "PAIRS_COLUMNS",
    "MaskParams",
    "Pair",
    "PairAnalysis",
    "add_arguments",
    "analyze_pair",
    "derive_mask",
    "derive_masks",
    "difference_map",
    "match_pairs",
    "read_pairs_csv",
    "run",
]

HELP = "derive edited-region masks from (original, edited) image pairs"

PAIRS_COLUMNS: tuple[str, ...] = (
    "original",
    "edited",
    "mask",
    "width",
    "height",
    "resized",
    "edited_fraction",
    "threshold",
    "background",
    "status",
)
_SEPARATORS = "_-. "
_DIGITS = re.compile(r"\d+")


# --------------------------------------------------------------------------- the mask of one pair


@dataclass(frozen=True)
class MaskParams:
    """Parameters of :func:`derive_mask` (see the module docstring for the method).

    Attributes:
        sigma: Gaussian smoothing of both Lab images before differencing, in pixels (0: none).
        floor: lowest threshold on the deltaE difference.
        refine: a pixel must also exceed ``refine * threshold`` on the unsmoothed difference (0: off).
        radius: radius in pixels of the disc used for opening and closing (0: none).
        min_area: connected components smaller than this fraction of the image are removed.
        structure_weight: weight of ``100 * (1 - SSIM)`` added to the difference (0: colour only).
    """

    sigma: float = 1.0
    floor: float = 2.0
    refine: float = 0.5
    radius: int = 2
    min_area: float = 0.002
    structure_weight: float = 0.0

    def __post_init__(self) -> None:
        if min(self.sigma, self.floor, self.refine, self.radius, self.structure_weight) < 0:
            raise ValueError(f"mask parameters must be >= 0, got {self}")
        if not 0.0 <= self.min_area < 1.0:
            raise ValueError(f"min_area must be in [0, 1), got {self.min_area}")


@dataclass(frozen=True)
class PairAnalysis:
    """The derivation of one mask.

    Attributes:
        mask: ``HxW uint8`` {0, 1}, 1 = edited (the edited image's size).
        difference: ``HxW float32`` difference map that was thresholded (deltaE units).
        threshold: the threshold applied to ``difference``.
        background: the background difference level (peak of the difference histogram).
        resized: whether the original was resized to the edited image's size.
    """

    mask: np.ndarray
    difference: np.ndarray
    threshold: float
    background: float
    resized: bool


def difference_map(
    original: np.ndarray, edited: np.ndarray, sigma: float = 1.0, structure_weight: float = 0.0
) -> np.ndarray:
    """Per-pixel CIELAB deltaE (CIE76) between the Gaussian-smoothed images.

    Args:
        original, edited: ``HxWx3 uint8`` RGB images of the same size.
        sigma: Gaussian sigma in pixels applied to both Lab images before differencing.
        structure_weight: if > 0, adds ``structure_weight * 100 * (1 - SSIM)`` of the L channels.

    Returns:
        ``HxW float32`` difference.
    """
    import cv2
    import numpy as np

    if original.shape != edited.shape:
        raise ValueError(f"image sizes differ: {original.shape} vs {edited.shape}")
    lab_o = cv2.cvtColor(original.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    lab_e = cv2.cvtColor(edited.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    if sigma > 0:
        lab_o = cv2.GaussianBlur(lab_o, (0, 0), sigma)
        lab_e = cv2.GaussianBlur(lab_e, (0, 0), sigma)
    diff = np.sqrt(((lab_o - lab_e) ** 2).sum(axis=2))
    if structure_weight > 0:
        from skimage.metrics import structural_similarity

        _, ssim = structural_similarity(
            lab_o[..., 0],
            lab_e[..., 0],
            data_range=100.0,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            full=True,
        )
        diff = diff + structure_weight * 100.0 * np.clip(1.0 - ssim, 0.0, 1.0)
    return diff.astype(np.float32)


def analyze_pair(original: np.ndarray, edited: np.ndarray, params: MaskParams | None = None) -> PairAnalysis:
    """Derive the edited-region mask of a pair and say how (threshold, background level).

    Args:
        original: ``H'xW'x3 uint8`` RGB, resized to the edited size if it differs.
        edited: ``HxWx3 uint8`` RGB.
        params: method parameters (defaults: :class:`MaskParams`).
    """
    import cv2
    import numpy as np
    from scipy import ndimage
    from skimage.filters import threshold_triangle

    params = params or MaskParams()
    h, w = edited.shape[:2]
    resized = original.shape[:2] != (h, w)
    if resized:
        shrink = original.shape[0] >= h and original.shape[1] >= w
        original = cv2.resize(original, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
    diff = difference_map(original, edited, params.sigma, params.structure_weight)
    lo, hi = float(diff.min()), float(diff.max())
    if hi - lo < 1e-6:
        background, threshold = lo, max(params.floor, hi)
    else:
        counts, edges = np.histogram(diff, bins=256, range=(lo, hi))
        peak = int(np.argmax(counts))
        background = float(edges[peak] + edges[peak + 1]) / 2
        threshold = max(params.floor, float(threshold_triangle(diff, nbins=256)))
    mask = diff > threshold
    if params.refine > 0:  # smoothing found the edit; the unsmoothed difference places its boundary
        raw = diff if params.sigma == 0 else difference_map(original, edited, 0.0)
        mask &= raw > params.refine * threshold
    mask = mask.astype(np.uint8)
    if params.radius > 0:
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * params.radius + 1, 2 * params.radius + 1))
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, disc)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, disc)
    mask = ndimage.binary_fill_holes(mask).astype(np.uint8)
    if params.min_area > 0 and mask.any():
        _, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        keep = stats[:, cv2.CC_STAT_AREA] >= params.min_area * h * w
        keep[0] = False  # background label
        mask = keep[labels].astype(np.uint8)
    return PairAnalysis(
        mask=mask, difference=diff, threshold=threshold, background=background, resized=resized
    )


def derive_mask(original: np.ndarray, edited: np.ndarray, **params: Any) -> np.ndarray:
    """The edited-region mask of ``edited`` relative to ``original``.

    Args:
        original: ``H'xW'x3 uint8`` RGB (resized to the edited size if it differs).
        edited: ``HxWx3 uint8`` RGB.
        **params: fields of :class:`MaskParams` (sigma, floor, refine, radius, min_area, structure_weight).

    Returns:
        ``HxW uint8`` {0, 1}, 1 = edited.
    """
    return analyze_pair(original, edited, MaskParams(**params)).mask


# --------------------------------------------------------------------------- pairing


@dataclass(frozen=True)
class Pair:
    """An (original, edited) pair and the mask file name (relative to the output folder)."""

    original: Path
    edited: Path
    out: str


def _last_id(stem: str) -> int | None:
    runs = _DIGITS.findall(stem)
    return int(runs[-1]) if runs else None


def match_pairs(
    originals: Sequence[Path], edited: Sequence[Path]
) -> tuple[list[Pair], list[tuple[Path, str]]]:
    """Pair each edited image with its original by the rules of the module docstring.

    Rules 1-2 (stem, stem prefix) run first for every edited image; rule 3 (numeric id) then runs
    for the rest against the originals that rules 1-2 did not already identify as edits, so that in
    a shared folder ``000000000459_qwen120`` never pairs with the *edit* ``000000000009_qwen120``
    through their common ``120``.

    Returns:
        (pairs in the order of ``edited``, [(edited path, reason)] for the ones left unpaired that
        are not themselves the original of a pair).
    """
    by_stem: dict[str, list[Path]] = {}
    for o in originals:
        by_stem.setdefault(o.stem, []).append(o)
    resolved: dict[Path, Path] = {}

    def real(p: Path) -> Path:
        if p not in resolved:
            resolved[p] = p.resolve()
        return resolved[p]

    def others(paths: Iterable[Path], e: Path) -> list[Path]:
        return [p for p in paths if real(p) != real(e)]

    found: dict[int, list[Path]] = {}
    for k, e in enumerate(edited):
        stem = e.stem
        hits = others(by_stem.get(stem, []), e)
        cuts = [i for i, ch in enumerate(stem) if ch in _SEPARATORS and i > 0]
        for i in reversed(cuts):  # longest prefix first
            if hits:
                break
            hits = others(by_stem.get(stem[:i], []), e)
        found[k] = hits
    edits = {real(e) for k, e in enumerate(edited) if found[k]}
    by_id: dict[int, list[Path]] = {}
    for o in originals:
        oid = _last_id(o.stem)
        if oid is not None and real(o) not in edits:
            by_id.setdefault(oid, []).append(o)

    pairs: list[Pair] = []
    unmatched: list[tuple[Path, str]] = []
    for k, e in enumerate(edited):
        hits = found[k]
        reason = "no original with the same stem, a stem prefix or the same numeric id"
        if not hits:
            for num in reversed([int(x) for x in _DIGITS.findall(e.stem)]):
                candidates = others(by_id.get(num, []), e)
                if len(candidates) == 1:
                    hits = candidates
                    break
                if len(candidates) > 1:
                    reason = f"ambiguous numeric id {num}: " + ", ".join(str(c) for c in candidates[:3])
                    break
        if len(hits) > 1:
            unmatched.append((e, "several originals: " + ", ".join(str(c) for c in hits[:3])))
        elif hits:
            pairs.append(Pair(original=hits[0], edited=e, out=f"{e.stem}.png"))
        else:
            unmatched.append((e, reason))
    used = {real(p.original) for p in pairs}
    return pairs, [(e, r) for e, r in unmatched if real(e) not in used]


def read_pairs_csv(
    path: str | os.PathLike[str],
    src: str | os.PathLike[str] | None = None,
    edited: str | os.PathLike[str] | None = None,
) -> list[Pair]:
    """Read pairs from a CSV with columns ``original,edited[,out]``.

    Relative ``original`` paths are taken under ``src``, relative ``edited`` paths under ``edited``
    (each defaulting to the CSV's folder); ``out`` (default ``<edited stem>.png``) is the mask's
    path relative to the output folder and must end in ``.png``.

    Raises:
        ValueError: missing columns or a bad ``out`` (the message names the file and row).
    """
    path = Path(path)
    src_root = Path(src) if src is not None else path.parent
    edited_root = Path(edited) if edited is not None else path.parent
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {"original", "edited"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(
                f"{path}: missing column(s) {', '.join(sorted(missing))} (need original,edited[,out])"
            )
        pairs = []
        for row_no, row in enumerate(reader, start=2):
            o, e = Path(row["original"]), Path(row["edited"])
            o, e = (o if o.is_absolute() else src_root / o), (e if e.is_absolute() else edited_root / e)
            out = (row.get("out") or "").strip() or f"{e.stem}.png"
            if Path(out).is_absolute() or ".." in Path(out).parts or not out.lower().endswith(".png"):
                raise ValueError(f"{path}, row {row_no}: out {out!r} must be a relative .png path")
            pairs.append(Pair(original=o, edited=e, out=out))
    return pairs


# --------------------------------------------------------------------------- many pairs


def derive_masks(
    src: str | os.PathLike[str] | None,
    edited: str | os.PathLike[str] | None,
    out: str | os.PathLike[str],
    pairs_csv: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    *,
    params: MaskParams | None = None,
    progress: bool = True,
) -> list[dict[str, str]]:
    """Derive and write the mask of every pair, and ``out/pairs.csv``.

    Args:
        src: folder of originals (recursive), or with ``pairs_csv`` the root of its relative paths.
        edited: folder of edited images (recursive), or the root of the CSV's relative paths.
        out: output folder for ``<edited stem>.png`` masks and ``pairs.csv``.
        pairs_csv: CSV with columns ``original,edited[,out]``; pairs by name when None.
        workers: worker processes (default ``os.cpu_count()``); 1 runs in this process.
        params: mask parameters (defaults: :class:`MaskParams`).
        progress: show a tqdm progress bar.

    Returns:
        The rows of ``pairs.csv`` (``status`` is ``ok``, ``unmatched: ...`` or ``error: ...``).
    """
    from deal_data_tools.synthesis.io import list_images, write_csv_atomic
    from deal_data_tools.synthesis.pool import ordered_map
    from tqdm import tqdm

    params = params or MaskParams()
    out = Path(out)
    rows: list[dict[str, str]] = []
    if pairs_csv is not None:
        pairs = read_pairs_csv(pairs_csv, src, edited)
    else:
        if src is None or edited is None:
            raise ValueError("src and edited folders are needed when no pairs CSV is given")
        originals = list_images(src)
        pairs, unmatched = match_pairs(originals, list_images(edited))
        also_original = {o.resolve() for o in originals}
        for e, reason in unmatched:
            status = ("skipped" if e.resolve() in also_original else "unmatched") + f": {reason}"
            rows.append(_row(original="", edited=str(e), status=status))
    seen: set[str] = set()
    jobs: list[Pair] = []
    for pair in pairs:
        if pair.out in seen:
            rows.append(
                _row(
                    original=str(pair.original),
                    edited=str(pair.edited),
                    status=f"error: duplicate mask name {pair.out}",
                )
            )
        else:
            seen.add(pair.out)
            jobs.append(pair)
    out.mkdir(parents=True, exist_ok=True)
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs) or 1))
    with tqdm(total=len(jobs), desc="pairs", unit="pair", disable=not progress, file=sys.stderr) as bar:
        for row in ordered_map(_derive_star, [(pair, out, params) for pair in jobs], workers):
            rows.append(row)
            bar.update()
    rows.sort(key=lambda r: (r["edited"], r["original"]))
    write_csv_atomic(out / "pairs.csv", PAIRS_COLUMNS, rows)
    return rows


def _row(**values: str) -> dict[str, str]:
    row = dict.fromkeys(PAIRS_COLUMNS, "")
    row.update(values)
    return row


def _derive_star(args: tuple[Pair, Path, MaskParams]) -> dict[str, str]:
    return _derive_one(*args)


def _derive_one(pair: Pair, out: Path, params: MaskParams) -> dict[str, str]:
    from deal_data_tools.synthesis.io import mask_png, read_rgb, write_bytes_atomic

    try:
        analysis = analyze_pair(read_rgb(pair.original), read_rgb(pair.edited), params)
        write_bytes_atomic(out / pair.out, mask_png(analysis.mask))
    except Exception as err:  # noqa: BLE001 - one bad pair must not stop the run; reported in pairs.csv
        return _row(
            original=str(pair.original), edited=str(pair.edited), status=f"error: {type(err).__name__}: {err}"
        )
    h, w = analysis.mask.shape
    return _row(
        original=str(pair.original),
        edited=str(pair.edited),
        mask=pair.out,
        width=str(w),
        height=str(h),
        resized=str(int(analysis.resized)),
        edited_fraction=f"{analysis.mask.mean():.6f}",
        threshold=f"{analysis.threshold:.3f}",
        background=f"{analysis.background:.3f}",
        status="ok",
    )


# --------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``deal data pairs``."""
    defaults = MaskParams()
    parser.add_argument("--src", type=Path, default=None, help="folder of original images (recursive)")
    parser.add_argument("--edited", type=Path, default=None, help="folder of edited images (recursive)")
    parser.add_argument("--out", type=Path, required=True, help="output folder for masks and pairs.csv")
    parser.add_argument(
        "--pairs",
        type=Path,
        default=None,
        help="CSV with columns original,edited[,out]; relative paths are under --src / --edited "
        "(else the CSV's folder)",
    )
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")
    parser.add_argument(
        "--sigma",
        type=float,
        default=defaults.sigma,
        help=f"smoothing before differencing, px (default {defaults.sigma:g})",
    )
    parser.add_argument(
        "--floor",
        type=float,
        default=defaults.floor,
        help=f"lowest deltaE threshold (default {defaults.floor:g})",
    )
    parser.add_argument(
        "--refine",
        type=float,
        default=defaults.refine,
        help="also require this fraction of the threshold on the unsmoothed difference "
        f"(default {defaults.refine:g})",
    )
    parser.add_argument(
        "--radius",
        type=int,
        default=defaults.radius,
        help=f"open/close disc radius, px (default {defaults.radius})",
    )
    parser.add_argument(
        "--min-area",
        type=float,
        default=defaults.min_area,
        help=f"drop components below this fraction of the image (default {defaults.min_area:g})",
    )
    parser.add_argument(
        "--structure-weight",
        type=float,
        default=defaults.structure_weight,
        help=f"weight of the SSIM structural difference (default {defaults.structure_weight:g}: colour only)",
    )


def run(args: argparse.Namespace) -> int:
    """Run ``deal data pairs``: 0 all pairs ok, 1 some failed or unmatched, 2 usage error (raised)."""
    from deal.errors import UsageError

    if args.pairs is None and (args.src is None or args.edited is None):
        raise UsageError("give --src and --edited (pairing by name), or --pairs CSV")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {args.workers}")
    try:
        params = MaskParams(
            sigma=args.sigma,
            floor=args.floor,
            refine=args.refine,
            radius=args.radius,
            min_area=args.min_area,
            structure_weight=args.structure_weight,
        )
        rows = derive_masks(args.src, args.edited, args.out, args.pairs, args.workers, params=params)
    except (ValueError, FileNotFoundError) as err:
        raise UsageError(str(err)) from None
    ok = sum(r["status"] == "ok" for r in rows)
    bad = [r for r in rows if not (r["status"] == "ok" or r["status"].startswith("skipped"))]
    print(f"wrote {ok} masks to {args.out} (summary: {Path(args.out) / 'pairs.csv'})")
    for r in bad[:20]:
        print(f"  {r['edited']}: {r['status']}", file=sys.stderr)
    if len(bad) > 20:
        print(f"  ... and {len(bad) - 20} more (see pairs.csv)", file=sys.stderr)
    return 1 if bad else 0
