"""`deal detect`: localize edits in files, folders and globs; resumable, one record per input."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from deal.cli.run_options import add_device_and_batch_size
from deal.imageio import DEFAULT_MAX_PIXELS, default_decode_workers
from deal.inference.regions import MIN_REGION_FRACTION
from deal.metrics.image_score import VERDICT_RULE

if TYPE_CHECKING:
    from deal.inference.detector import Detector
    from deal.runs.ray_engine import RayOptions

HELP = "localize edited regions in images, folders and globs (heatmaps, masks, scores, a report)"

DESCRIPTION = f"""\
Localize the regions of each image that a diffusion model edited.

INPUT is any mix of image files, folders (searched recursively) and glob patterns
(quote them: 'photos/**/*.jpg'). JPEG, PNG, WebP, TIFF and BMP are picked up by extension
(any case). EXIF orientation is applied (outputs match the image as displayed); 16-bit
images are scaled to 8 bit; CMYK and palette images are converted to RGB; alpha is dropped;
animated files use their first frame (noted in the record).

Outputs mirror the input tree under --out DIR, named after the input's full file name:
  <name>.heatmap.png   8-bit grayscale probability of an edit, value = round(255 * p)
  <name>.mask.png      0/255, p > threshold
  <name>.overlay.jpg   the image in gray, the heatmap blended in viridis colours, the mask's contour
  <name>.npz           TruFor-compatible: map (float32 HxW), score, imgsize (opt-in: --save ...,npz)
  <name>.json          the input's record (written last: its presence means done)
  DIR/results.jsonl    one record per input, in input order; DIR/results.csv the same, flat
  DIR/report.html      with --report html: a sortable table; click a row for its image, heatmap,
                       mask contour and overlay side by side (opens from disk, no network)
  <name>.view-V.png    with --views V,...: a classic forensic view's map, encoded as the heatmap

--views computes classic forensic views beside the model, in the decoding threads: ela (error level
at a JPEG re-save at quality 90), noise (local noise level against the image's median), jpeg (an 8x8
JPEG grid out of step with the image's; "not applicable" where the pixels carry no grid), spectral
(the finest-band energy deficit of generated pixels), copymove (regions copied within the image,
source and target). Each is a map in [0, 1] relative to the image itself, scored by
`deal benchmark --baseline NAME`; the report shows them as layers over the image, each with its
measured pixel-AUC lift on real diffusion inpainting. A view that fails is a note in the record.

Each record holds the input's path, sha256, size, score (mean of the top 1% of the heatmap),
verdict, the thresholds, edited fraction, regions (connected parts of the mask covering at
least {MIN_REGION_FRACTION:.2%} of the image; smaller specks are counted as dropped), output paths, the detector's
name and sha256, deal's version, seconds (the image's own time: decoding, its share of the batches it
ran in, writing), and an error message (null when it worked). The rule:
{VERDICT_RULE}.
The detector file holds the calibrated threshold and image thresholds (chosen on validation
data by `deal export` for a stated precision); --threshold and --image-thresholds override them.

A killed run resumes: rerun the same command; inputs already done are skipped (--overwrite to
redo them) and the outputs are byte-identical to an uninterrupted run (same device, batch
size and thread count; records differ only in `seconds`). Unreadable inputs
(corrupt, truncated, empty, not an image, over --max-pixels, no permission, missing) are
reported on stderr and in results.jsonl, and the run goes on.

--engine ray runs the same detection on a pool of Ray workers, each holding one detector, on this
machine or an existing Ray cluster (--address auto after `ray start --head`, or HOST:PORT): the
same inputs, outputs (byte for byte, on the same device kind, batch size and threads per worker),
records and resumption as the local engine; a killed worker's inputs are redone once. Inputs and
--out must be on a filesystem that every node mounts under the same path.

Each record also holds the input's provenance, read from its bytes, offline: C2PA Content
Credentials (valid, invalid with the reason, present but unreadable, or absent; checked against
--trust-anchors), EXIF/XMP/IPTC, generator traces (Stable Diffusion and ComfyUI PNG chunks, known AI
software), JPEG quality, subsampling and double compression, the EXIF thumbnail, and notes on degraded
inputs. A missing manifest is not evidence of editing: see the provenance page of the documentation for
every field.

Every run writes DIR/run.json (deal's version, the detector's sha256, every option, thresholds, platform,
--case/--examiner/--note) and DIR/MANIFEST.sha256 (sha256sum -c format: every output and input);
`deal verify DIR` checks them.

Exit codes: 0 every input done, 1 some inputs failed (see the error field of results.jsonl),
2 usage error (no input matched, bad option value, output folder in use by another run).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="*", metavar="INPUT", help="image files, folders and glob patterns")
    parser.add_argument(
        "--inputs-from",
        metavar="LIST",
        help="more inputs, listed in a text file (one a line) or a CSV file (its path column, else the "
        "first); relative entries are relative to the list's folder",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (created if needed)")
    parser.add_argument(
        "--detector",
        metavar="FILE",
        help="detector file (.safetensors); default: the bundled demonstration one",
    )
    parser.add_argument(
        "--sam-checkpoint",
        metavar="PATH",
        help="SAM checkpoint of a frozen-encoder detector (default: found)",
    )
    parser.add_argument("--force", action="store_true", help="accept a SAM checkpoint whose sha256 differs")
    parser.add_argument(
        "--threshold", type=float, metavar="T", help="pixel threshold of the mask, p > T (default: the detector's)"
    )
    parser.add_argument(
        "--image-thresholds",
        metavar="LO,HI",
        help="verdict thresholds on the image score: edited when score >= HI, authentic when score < LO, "
        "inconclusive in between (default: the detector's calibrated pair)",
    )
    add_device_and_batch_size(parser)
    _add_engine_arguments(parser)
    parser.add_argument(
        "--save",
        default="heatmap,mask,overlay,json",
        metavar="KINDS",
        help="comma-separated outputs among heatmap,mask,overlay,npz,json (default: heatmap,mask,overlay,json)",
    )
    parser.add_argument("--report", choices=("html",), help="also write DIR/report.html")
    parser.add_argument(
        "--views",
        default="",
        metavar="NAMES",
        help="classic forensic views to compute too, comma-separated among ela,noise,jpeg,spectral,copymove "
        "(default: none); each map is written as <name>.view-<view>.png and shown as a layer in the report",
    )
    parser.add_argument("--overwrite", action="store_true", help="redo inputs that an earlier run completed")
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        metavar="N",
        help=f"refuse images over N pixels before decoding them (default: {DEFAULT_MAX_PIXELS})",
    )
    parser.add_argument(
        "--tile",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="tile images larger than the detector's image size at native resolution (default); "
        "--no-tile downscales them so their longest side fits, and resizes the heatmap back",
    )
    _add_provenance_and_case_arguments(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar, log lines or summary")


def _add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """--workers, --engine and the Ray engine's --address and --gpus-per-worker."""
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="local engine: decoding threads (default: min(4, CPU count)); ray engine: Ray workers, each "
        "holding one detector (default: the cluster's GPUs / --gpus-per-worker, or its CPUs)",
    )
    parser.add_argument(
        "--engine",
        default="local",
        choices=("local", "ray"),
        help="local: this process (default); ray: a pool of Ray workers on a local or existing Ray "
        'cluster (pip install "deal-forensics[ray]"; inputs and --out on a filesystem every node sees)',
    )
    parser.add_argument(
        "--address",
        metavar="ADDR",
        help="ray engine: the cluster (auto: the one `ray start` made on this node; HOST:PORT of its head); "
        "default: a new Ray instance on this machine",
    )
    parser.add_argument(
        "--gpus-per-worker",
        type=float,
        default=None,
        metavar="G",
        help="ray engine: GPUs each worker holds (default: 1 if --device resolves to cuda, else 0)",
    )


def _add_provenance_and_case_arguments(parser: argparse.ArgumentParser) -> None:
    """--trust-anchors, --no-provenance and the case's --case, --examiner and --note."""
    parser.add_argument(
        "--trust-anchors",
        metavar="PEM",
        help="root certificates (PEM) that C2PA signers are checked against; default: none, a valid "
        "signature is reported with its signer untrusted",
    )
    parser.add_argument(
        "--no-provenance", action="store_true", help="do not read provenance and metadata (records hold null)"
    )
    parser.add_argument("--case", metavar="ID", help="case identifier, recorded in run.json and the report")
    parser.add_argument("--examiner", metavar="NAME", help="who ran the analysis (run.json, the report)")
    parser.add_argument("--note", metavar="TEXT", help="a free note recorded in run.json and the report")


def run(args: argparse.Namespace) -> int:
    import sys
    import warnings

    from deal.errors import UsageError

    # Usage checks first, torch-free: a mistake is one sentence and exit 2 in well under a second.
    views = _check_views(args.views)
    image_thresholds, save, ray_options = _check_usage(args)

    from PIL import Image

    from deal.runs import CaseInfo
    from deal.runs.discovery import NoInputsError
    from deal.runs.folder import run_detection
    from deal.runs.lock import RunLockedError
    from deal.runs.ray_engine import RayClusterError

    # Oversized images are refused with a clear message; Pillow's own warning would only repeat it.
    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
    detector = _load_detector(args, image_thresholds)
    if ray_options is not None:
        workers = 0  # each Ray worker decodes its window itself
    else:
        workers = args.workers if args.workers is not None else default_decode_workers()
    try:
        summary = run_detection(
            args.inputs,
            args.out,
            detector,
            save=save,
            report=args.report,
            overwrite=args.overwrite,
            batch_size=args.batch_size,
            workers=workers,
            quiet=args.quiet,
            inputs_from=args.inputs_from,
            engine=args.engine,
            ray_options=ray_options,
            case=CaseInfo(args.case, args.examiner, args.note),
            views=views,
        )
    except (NoInputsError, RunLockedError, RayClusterError) as err:
        raise UsageError(str(err)) from err
    if not args.quiet:
        _print_manifest(summary.out_dir, args.out)
    sys.stderr.flush()
    return summary.exit_code


def _check_usage(args: argparse.Namespace) -> tuple[tuple[float, float] | None, tuple[str, ...], RayOptions | None]:
    """The torch-free usage checks (UsageError on a bad option, input, detector file or output folder);
    (the --image-thresholds pair or None, the output kinds, the Ray engine's RayOptions or None)."""
    from deal.cli import checks
    from deal.errors import UsageError

    checks.check_unit_interval(args.threshold, "--threshold")
    image_thresholds = parse_image_thresholds(args.image_thresholds) if args.image_thresholds else None
    checks.check_at_least(args.batch_size, 1, "--batch-size")
    checks.check_at_least(args.workers, 0, "--workers")
    if not args.inputs and args.inputs_from is None:
        raise UsageError("give at least one INPUT or --inputs-from LIST")
    if args.engine == "ray":
        checks.check_at_least(args.workers, 1, "--workers (with --engine ray)")
    if args.engine != "ray" and (args.address is not None or args.gpus_per_worker is not None):
        raise UsageError("--address and --gpus-per-worker need --engine ray")
    checks.check_at_least(args.gpus_per_worker, 0, "--gpus-per-worker")
    checks.check_at_least(args.max_pixels, 1, "--max-pixels")

    from deal.report.outputs import parse_save

    try:
        save = parse_save(args.save)
    except ValueError as err:
        raise UsageError(f"--save: {err}") from err
    ray_options: RayOptions | None = None
    if args.engine == "ray":
        from deal.runs.ray_engine import RayOptions, RayUnavailableError, require_ray

        try:
            require_ray()
        except RayUnavailableError as err:
            raise UsageError(str(err)) from err
        ray_options = RayOptions(
            address=args.address, workers=args.workers, gpus_per_worker=args.gpus_per_worker
        )
    checks.check_detector_file(args.detector)
    checks.check_detect_inputs(args.inputs, args.inputs_from, args.out)
    checks.check_output_dir(args.out, "--out")
    return image_thresholds, save, ray_options


def _check_views(text: str) -> list[str]:
    """--views as a list of view names (torch-free); UsageError on an unknown one."""
    from deal.baselines.views import check_view_names
    from deal.errors import UsageError

    try:
        return check_view_names(text)
    except ValueError as err:
        raise UsageError(f"--views: {err}") from err


def _load_detector(args: argparse.Namespace, image_thresholds: tuple[float, float] | None) -> Detector:
    """The Detector the options describe (UsageError on a bad --trust-anchors file, detector file or
    device); says on stderr when its calibration can never give a verdict."""
    import sys

    from deal.errors import UsageError
    from deal.provenance import ProvenanceOptions

    try:
        provenance = ProvenanceOptions.from_pem_file(args.trust_anchors)
    except ValueError as err:
        raise UsageError(f"--trust-anchors: {err}") from err
    if args.no_provenance:
        provenance = ProvenanceOptions(enabled=False)

    from deal.inference.detector import Detector

    try:
        detector = Detector.load(
            args.detector,
            args.device,
            threshold=args.threshold,
            image_thresholds=image_thresholds,
            sam_checkpoint=args.sam_checkpoint,
            force=args.force,
            tile=args.tile,
            max_pixels=args.max_pixels,
            provenance=provenance,
        )
    except (ValueError, OSError) as err:  # no such detector file, not a detector, unavailable device
        raise UsageError(str(err)) from err
    from deal.metrics.image_score import detector_verdict_limitation

    limitation = detector_verdict_limitation(detector.image_thresholds, detector.info)
    if limitation:
        print(f"deal detect: note: {limitation}", file=sys.stderr)
    return detector


def _print_manifest(out_dir: Path, shown_out: str) -> None:
    """The run's manifest and its sha256 on stderr, with the command that checks the run."""
    import sys

    from deal.fileio import sha256_file
    from deal.runs import MANIFEST_NAME

    manifest = out_dir / MANIFEST_NAME
    print(
        f"deal detect: {manifest} sha256 {sha256_file(manifest)} (check the run: deal verify {shown_out})",
        file=sys.stderr,
    )


def parse_image_thresholds(text: str) -> tuple[float, float]:
    """"LO,HI" -> (lo, hi); UsageError unless two numbers with 0 <= LO <= HI <= 1."""
    from deal.errors import UsageError
    from deal.metrics.image_score import check_image_thresholds

    try:
        low, high = (float(v) for v in text.split(","))
        return check_image_thresholds(low, high)
    except ValueError as err:
        raise UsageError(f"--image-thresholds takes LO,HI with 0 <= LO <= HI <= 1, got {text!r}") from err
