"""``deal data synth``: synthetic local edits of authentic photos, with exact masks.

Each output image ``i`` comes from one source photo and its own random generator, seeded from
``(seed, i)``, so the output does not depend on the worker count or the order of work:

1. **Global history, before the edit** (edited and authentic images alike): resize by a log-uniform
   factor in [0.3, 1.0] (downscaling only, as photos reach an editor) with a random kernel (area, linear, cubic, lanczos), then, with ``--size S``,
   a random ``S x S`` crop (small photos are resized up, never padded).
2. **Local edit** (label 1 only): an object-like region (polygon, Fourier contour, noise blob,
   ellipse, or a union) of log-uniform area in 1-60% of the image, re-rendered by one operation drawn
   with configurable weights (inpaint, resample, splice, copymove, color, texture, lowres; see
   :mod:`deal_data_tools.synthesis.edits`), blended with a hard or feathered alpha. The mask is the set of
   pixels whose alpha exceeds 0.5, so it is exact. An attempt whose region or mask falls outside
   1-60%, or whose mean change inside the mask is below ``min_change`` grey levels, is redrawn.
3. **Global history, after the edit**: with probability ``jpeg_prob`` JPEG recompression at a
   quality in [60, 100]; such images are stored as ``.jpg`` files holding exactly that JPEG (the
   quantization tables a detector would see), the others as lossless ``.png``.

Authentic images (label 0, every ``1/authentic_share``-th index: an exact share, independent of
``n``) get steps 1 and 3 and an all-zero mask.

Layout written under ``--out``::

    images/<name>.png|.jpg   masks/<name>.png (mode L, 0/255, 255 = edited)
    originals/<name>.png|.jpg  edited images only: the same photo without the local edit, through the same
                             history and JPEG quality (the objectness control's input: deal benchmark,
                             deal evaluate and training validation score it against the same mask)
    manifest.csv             image,mask,label,split,width,height,edited_fraction,edit,source,original
    .records/<name>.json     per-image record (resume state; the manifest is rebuilt from these)

``edit`` is the whole history, ``|``-separated, e.g.
``scale:cubic@0.842|crop:256|shape:fourier|resample:lanczos>area+noise3.1+feather2.4|jpeg:83``.
``source`` is the photo's path relative to ``--src``. Files are written atomically; a rerun skips
images whose record (same seed, settings and source list), image and mask already exist.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deal_data_tools.synthesis.config import DEFAULT_WEIGHTS, SynthConfig
from deal_data_tools.synthesis.names import ALL_EDIT_NAMES, EDIT_NAMES, GENERATOR_EDIT_NAMES

if TYPE_CHECKING:
    from deal_data_tools.synthesis.dataset import (
        MANIFEST_COLUMNS,
        Example,
        SynthesisError,
        is_authentic,
        make_edited_example,
        reproduce_example,
        synthesize_dataset,
        synthesize_example,
    )
    from deal_data_tools.synthesis.photos import sample_photos

__all__ = [
    "ALL_EDIT_NAMES",
    "DEFAULT_WEIGHTS",
    "EDIT_NAMES",
    "GENERATOR_EDIT_NAMES",
    "HELP",
    "MANIFEST_COLUMNS",
    "Example",
    "SynthConfig",
    "SynthesisError",
    "add_arguments",
    "is_authentic",
    "make_edited_example",
    "parse_weights",
    "reproduce_example",
    "run",
    "sample_photos",
    "synthesize_dataset",
    "synthesize_example",
]

HELP = "make a dataset of synthetic local edits (with exact masks) from authentic photos"

# The working functions need NumPy and OpenCV; they load on first access (PEP 562), so that
# ``deal --help``, which calls add_arguments(), imports nothing heavy.
_LAZY = {
    "MANIFEST_COLUMNS": "deal_data_tools.synthesis.dataset",
    "Example": "deal_data_tools.synthesis.dataset",
    "SynthesisError": "deal_data_tools.synthesis.dataset",
    "is_authentic": "deal_data_tools.synthesis.dataset",
    "make_edited_example": "deal_data_tools.synthesis.dataset",
    "reproduce_example": "deal_data_tools.synthesis.dataset",
    "synthesize_dataset": "deal_data_tools.synthesis.dataset",
    "synthesize_example": "deal_data_tools.synthesis.dataset",
    "sample_photos": "deal_data_tools.synthesis.photos",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------- CLI


def parse_weights(text: str) -> dict[str, float]:
    """Parse ``"inpaint=1,resample=2"`` into weights; names left out get weight 0.

    Raises:
        ValueError: a malformed item or an unknown name (the message lists the valid names).
    """
    weights = dict.fromkeys(ALL_EDIT_NAMES, 0.0)
    for item in filter(None, (t.strip() for t in text.split(","))):
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in weights:
            raise ValueError(
                f"bad edit weight {item!r}: expected NAME=WEIGHT with NAME in {', '.join(ALL_EDIT_NAMES)}"
            )
        try:
            weights[name] = float(value)
        except ValueError:
            raise ValueError(f"bad edit weight {item!r}: {value!r} is not a number") from None
    return weights


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``deal data synth``."""
    parser.add_argument("--src", required=True, type=Path, help="folder of authentic photos (recursive)")
    parser.add_argument("--out", required=True, type=Path, help="output folder")
    parser.add_argument("--n", required=True, type=int, help="number of images to make")
    parser.add_argument("--seed", type=int, default=0, help="global seed (default 0); same seed, same bytes")
    parser.add_argument(
        "--size", type=int, default=None, help="random square crop side in pixels (default: none)"
    )
    parser.add_argument(
        "--authentic-share", type=float, default=0.2, help="share of authentic, unedited images (default 0.2)"
    )
    parser.add_argument("--split", default="", help="value of the manifest's split column (default empty)")
    parser.add_argument(
        "--weights",
        default=None,
        help="edit weights NAME=W,... over "
        + ", ".join(ALL_EDIT_NAMES)
        + " (names left out get 0; default "
        + ",".join(f"{k}={v:g}" for k, v in DEFAULT_WEIGHTS.items())
        + ", plus "
        + ",".join(f"{k}=1" for k in GENERATOR_EDIT_NAMES)
        + " with --generator)",
    )
    parser.add_argument(
        "--generator",
        type=Path,
        default=None,
        help="folder of the TAEF2 autoencoder (taef2_encoder.pth, taef2_decoder.pth; sha256-checked): "
        "enables the generator edits " + ", ".join(GENERATOR_EDIT_NAMES),
    )
    parser.add_argument(
        "--jpeg-prob", type=float, default=0.5, help="probability of JPEG recompression (default 0.5)"
    )
    parser.add_argument(
        "--authentic-regen",
        type=float,
        default=0.0,
        help="share of authentic images round-tripped through the --generator (label 0; default 0)",
    )
    parser.add_argument(
        "--scale-range",
        default=None,
        help="LO,HI of the log-uniform global resize factor before the edit (default 0.3,1.0)",
    )
    parser.add_argument(
        "--fraction-range",
        default=None,
        help="LO,HI of the edited fraction of each image, log-uniform (default 0.01,0.60; CoCoGlide's masks: "
        "median 0.16, 5th-95th percentile 0.03-0.75)",
    )
    parser.add_argument(
        "--placement",
        choices=("object", "uniform"),
        default="object",
        help="object: regions fit inside the frame where they can (large ones near the centre); uniform: "
        "shifted uniformly with wrap-around, so position carries no label (default object)",
    )
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: all cores)")


def run(args: argparse.Namespace) -> int:
    """Run ``deal data synth``: 0 success, 1 some images failed, 2 usage error (raised)."""
    from deal.errors import UsageError

    if args.n < 1:
        raise UsageError(f"--n must be >= 1, got {args.n}")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {args.workers}")
    import time

    from deal_data_tools.synthesis.dataset import SynthesisError, synthesize_dataset

    start = time.perf_counter()
    try:
        weights = parse_weights(args.weights) if args.weights else None
        scale_range = tuple(float(v) for v in args.scale_range.split(",")) if args.scale_range else None
        if scale_range is not None and len(scale_range) != 2:
            raise ValueError(f"--scale-range takes LO,HI, got {args.scale_range!r}")
        fraction_range = tuple(float(v) for v in args.fraction_range.split(",")) if args.fraction_range else None
        if fraction_range is not None and len(fraction_range) != 2:
            raise ValueError(f"--fraction-range takes LO,HI, got {args.fraction_range!r}")
        manifest = synthesize_dataset(
            args.src,
            args.out,
            args.n,
            seed=args.seed,
            size=args.size,
            authentic_share=args.authentic_share,
            workers=args.workers,
            split=args.split,
            weights=weights,
            jpeg_prob=args.jpeg_prob,
            generator=args.generator,
            authentic_regen=args.authentic_regen,
            scale_range=scale_range,
            fraction_range=fraction_range,
            placement=args.placement,
        )
    except (ValueError, FileNotFoundError) as err:
        raise UsageError(str(err)) from None
    except SynthesisError as err:
        print(f"deal data synth: {err}", file=sys.stderr)
        print(f"manifest of the other images: {err.manifest}", file=sys.stderr)
        return 1
    rate = args.n / max(time.perf_counter() - start, 1e-9)
    print(f"wrote {args.n} images to {args.out} ({rate:.2f} images/s); manifest: {manifest}")
    return 0
