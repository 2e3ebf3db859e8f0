"""deal benchmark-speed: images/s and peak memory of the stock SAM encoder, ours, the detector, a training
step and end-to-end folder detection (deal_benchmarks.speed)."""

from __future__ import annotations

import argparse

from deal.modeling.constants import DEFAULT_BATCH_SIZE

HELP = "measure images/s and peak memory: stock SAM encoder vs ours, detector, training step, deal detect"
DESCRIPTION = """Measure, in one process, images/s and peak memory at every batch size, dtype and compile setting:

  1 stock-encoder     segment-anything's ImageEncoderViT (same hyper-parameters, random weights)
  2 deal-encoder      this project's encoder alone (timm SAM ViT, SDPA + decomposed rel-pos bias)
  3 detector-forward  the full detector forward (prompts, encoder, decoder, upsampling)
  4 train-step        a training step with the frozen encoder (BCE + soft IoU, backward, AdamW)
  5 detect-folder     deal detect end to end over synthetic JPEGs on disk (decode, model, outputs)

--attention sdpa,flex measures row 4 once per backend of the global blocks' rel-pos attention: sdpa (the
bias as a dense (B, heads, N, N) SDPA mask) and flex (FlexAttention's score_mod, no dense bias; fused
only on CUDA, on the CPU a dense reference). "GiB/image" is peak memory over images per step.

"vs row 1" is images/s over row 1's at the same batch, dtype and compile setting. Timing: CUDA events after
--warmup steps, median of --repeats (defaults 3 and 10 on CUDA; on the CPU a wall clock, 1 and 3). Peak
memory: torch.cuda.max_memory_allocated on a GPU; on the CPU the growth of the process's resident set.
Failed configurations are recorded with their error (exit code 1); the others still run.

  deal benchmark-speed --size vit_b --batch-sizes 1,8 --dtypes fp32,bf16 --compile off,on
  deal benchmark-speed --size tiny --rows 1,2,3 --compile off --device cpu --out tiny.json
  deal benchmark-speed --size vit_b --rows 4 --attention sdpa,flex --dtypes bf16 --batch-sizes 8,32

Is deal detect bounded by its model? --pipeline INPUT (repeatable: a folder, file or quoted glob) measures
instead, with a real detector (--detector, default the bundled one): the bare model forward on exactly the
batches and tiles a deal detect run makes of those images, deal detect end to end on them, and the ratio
(detect / forward). --benchmark-dataset NAME=PATH measures deal benchmark (the same maps and every
metric) against deal detect on a dataset's images (ratio benchmark / detect).

  deal benchmark-speed --pipeline ../shared/data/natural/BSDS500/test --out pipeline.json
  deal benchmark-speed --benchmark-dataset CocoGlide=../shared/data/fixtures/CocoGlide --out pipeline.json
"""


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--size", default="vit_b", choices=("tiny", "vit_b", "vit_l", "vit_h"), help="default: vit_b"
    )
    p.add_argument(
        "--image-size", type=int, metavar="S", help="square input side (default: 1024; 512 for tiny)"
    )
    p.add_argument("--batch-sizes", default="1,8", metavar="LIST", help="comma-separated (default: 1,8)")
    p.add_argument(
        "--dtypes", default="fp32,bf16", metavar="LIST", help="among fp32,bf16 (default: fp32,bf16)"
    )
    p.add_argument(
        "--compile", default="off,on", metavar="LIST", help="among off,on: torch.compile (default: off,on)"
    )
    p.add_argument("--rows", default="1,2,3,4,5", metavar="LIST", help="rows to measure (default: 1,2,3,4,5)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="default: auto")
    p.add_argument("--warmup", type=int, metavar="N", help="untimed steps (default: 3 on CUDA, 1 on the CPU)")
    p.add_argument("--repeats", type=int, metavar="N", help="timed steps (default: 10 on CUDA, 3 on the CPU)")
    p.add_argument(
        "--attention",
        default="auto",
        metavar="LIST",
        help="among auto,sdpa,flex: row 4 once per backend of the global attention blocks (default: auto)",
    )
    p.add_argument("--detect-images", type=int, default=16, metavar="N", help="JPEGs for row 5 (default: 16)")
    p.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="torch CPU threads (default: torch's); on a CPU busy with other work, 1 avoids stalls",
    )
    p.add_argument(
        "--out",
        default="benchmark_speed.json",
        metavar="FILE",
        help="JSON output (default: benchmark_speed.json)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.add_argument(
        "--pipeline",
        action="append",
        metavar="INPUT",
        help="measure deal detect vs the bare model forward on these images instead (repeatable: one row each)",
    )
    p.add_argument(
        "--benchmark-dataset",
        action="append",
        metavar="NAME=PATH",
        help="measure deal benchmark vs deal detect on this dataset's images instead (repeatable: one row each)",
    )
    p.add_argument("--detector", metavar="FILE", help="--pipeline: detector file (default: the bundled one)")
    p.add_argument(
        "--batch-size", type=int, default=DEFAULT_BATCH_SIZE, metavar="N",
        help=f"--pipeline: deal detect's (default: {DEFAULT_BATCH_SIZE})",
    )
    p.add_argument("--workers", type=int, default=2, metavar="N", help="--pipeline: decoding threads (default: 2)")


def command_line(args: argparse.Namespace, image_size: int) -> str:
    """The command, with every setting spelled out, that reproduces this run."""
    import shlex

    parts = [
        "deal", "benchmark-speed",
        "--size", args.size,
        "--image-size", str(image_size),
        "--batch-sizes", args.batch_sizes,
        "--dtypes", args.dtypes,
        "--compile", args.compile,
        "--rows", args.rows,
        "--device", args.device,
        "--detect-images", str(args.detect_images),
        "--out", args.out,
    ]  # fmt: skip
    if args.warmup is not None:
        parts += ["--warmup", str(args.warmup)]
    if args.repeats is not None:
        parts += ["--repeats", str(args.repeats)]
    if args.threads is not None:
        parts += ["--threads", str(args.threads)]
    if args.attention != "auto":
        parts += ["--attention", args.attention]
    return shlex.join(parts)


def run_pipeline(args: argparse.Namespace) -> int:
    """--pipeline / --benchmark-dataset: one row per INPUT or dataset."""
    import shlex

    import torch
    from deal_benchmarks.hardware import describe_hardware
    from deal_benchmarks.pipeline import benchmark_vs_detect, detect_vs_forward

    from deal.fileio import write_json
    from deal.inference.detector import Detector

    threads_before = torch.get_num_threads()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    try:
        detector = Detector.load(args.detector, args.device)
        settings = {"batch_size": args.batch_size, "workers": args.workers}
        rows = [detect_vs_forward([inp], detector, **settings) for inp in args.pipeline or []]
        rows += [benchmark_vs_detect(spec, detector, **settings) for spec in args.benchmark_dataset or []]
        threads = torch.get_num_threads()
    finally:
        torch.set_num_threads(threads_before)
    print(f"{'row':<20} {'inputs':<40} {'images':>6} {'img/s':>8} {'vs':>8} {'ratio':>6}")
    for r in rows:
        ips, ref = (
            (r["detect_images_per_s"], r["forward_images_per_s"])
            if r["row"] == "detect-vs-forward"
            else (r["benchmark_images_per_s"], r["detect_images_per_s"])
        )
        print(f"{r['row']:<20} {r['inputs'][-40:]:<40} {r['images']:>6} {ips:>8.3f} {ref:>8.3f} {r['ratio']:>6.2f}")
    result = {
        "command": shlex.join(
            ["deal", "benchmark-speed"]
            + [a for i in args.pipeline or [] for a in ("--pipeline", i)]
            + [a for d in args.benchmark_dataset or [] for a in ("--benchmark-dataset", d)]
            + ["--batch-size", str(args.batch_size), "--workers", str(args.workers)]
        ),
        "detector": detector.name,
        "device": str(detector.device),
        "threads": threads,
        "hardware": describe_hardware(detector.device),
        "rows": rows,
    }
    write_json(args.out, result)
    print(f"written: {args.out}")
    return 0


def run(args: argparse.Namespace) -> int:
    import sys

    from deal.cli.main import UsageError

    if args.pipeline or args.benchmark_dataset:
        return run_pipeline(args)
    try:
        batch_sizes = [int(b) for b in _csv(args.batch_sizes)]
        rows = [int(r) for r in _csv(args.rows)]
    except ValueError as err:
        raise UsageError(f"--batch-sizes and --rows take comma-separated integers: {err}") from err

    from deal_benchmarks.speed import default_image_size, run_speed_benchmark
    from deal_benchmarks.table import format_table

    from deal.fileio import write_json

    image_size = args.image_size if args.image_size is not None else default_image_size(args.size)
    log = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    try:
        result = run_speed_benchmark(
            args.size,
            image_size,
            batch_sizes,
            _csv(args.dtypes),
            _csv(args.compile),
            rows,
            args.device,
            args.warmup,
            args.repeats,
            args.detect_images,
            threads=args.threads,
            attentions=_csv(args.attention),
            log=log,
        )
    except ValueError as err:  # a bad value or an unavailable device, found before anything ran
        raise UsageError(str(err)) from err
    result = {"command": command_line(args, image_size), **result}
    path = write_json(args.out, result)
    print(format_table(result))
    print(f"written: {path}")
    return 1 if any(r.get("error") for r in result["rows"]) else 0
