"""Ray engine vs local engine: images/s of `deal detect` over the same images with the same detector.

    python -m deal_benchmarks.ray_vs_local --source ../shared/data/natural/BSDS500/test --images 200 --crop 256

With --crop S, each image is first center-cropped to SxS and saved as a JPEG (quality 95) in a temporary
folder (a photo of one detector tile, so a busy 2-core machine measures it in minutes).

Each engine runs as `deal detect` would run it, with its own thread settings: local, torch's default
threads and min(4, CPUs) decoding threads; Ray, one actor per CPU of a local Ray instance, one torch thread
each. Runs alternate (local, Ray, local, Ray, ...) into fresh output folders, so a change in the machine's
load hits both engines alike. images/s = images / seconds of run_detection, which for Ray includes
starting the actors (importing torch and deal, receiving the detector) but not starting Ray itself
(on a cluster Ray is already running); that is timed separately as ray_init_seconds, and "cold"
images/s counts it too.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
from deal_benchmarks.hardware import describe_hardware


def _crop(path: str, side: int, folder: Path) -> str:
    from PIL import Image, ImageOps

    img = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    left, top = max(0, (img.width - side) // 2), max(0, (img.height - side) // 2)
    out = folder / (Path(path).stem + ".jpg")
    out.parent.mkdir(parents=True, exist_ok=True)
    img.crop((left, top, left + side, top + side)).save(out, quality=95)
    return str(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--source", required=True, help="a folder of images (the first --images, sorted)")
    p.add_argument("--images", type=int, default=200)
    p.add_argument("--repeats", type=int, default=2, help="runs per engine, alternating (default: 2)")
    p.add_argument("--crop", type=int, help="center-crop the images to SxS first (default: as they are)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--detector", help="detector file (default: the bundled one)")
    p.add_argument("--out", default="ray_vs_local.json", help="JSON output")
    args = p.parse_args(argv)

    import ray

    from deal.inference.detector import Detector
    from deal.runs.folder import run_detection
    from deal.runs.ray_engine import RayOptions

    paths = sorted(
        str(q) for q in Path(args.source).iterdir() if q.suffix.lower() in (".jpg", ".jpeg", ".png")
    )[: args.images]
    tmp_dir = tempfile.TemporaryDirectory()
    if args.crop:
        paths = [_crop(q, args.crop, Path(tmp_dir.name) / "crops") for q in paths]
    detector = Detector.load(args.detector, "cpu")
    cpus = os.cpu_count() or 1
    hardware = describe_hardware(torch.device("cpu"))
    t0 = time.perf_counter()
    ray.init(num_cpus=cpus, include_dashboard=False, logging_level=logging.ERROR)
    ray_init = time.perf_counter() - t0
    rates: dict[str, list[float]] = {"local": [], "ray": []}
    with tmp_dir as tmp:
        for r in range(args.repeats):
            for engine in ("local", "ray"):
                summary = run_detection(
                    paths,
                    Path(tmp) / f"{engine}{r}",
                    detector,
                    batch_size=args.batch_size,
                    workers=min(4, cpus) if engine == "local" else 0,
                    quiet=True,
                    engine=engine,
                    ray_options=RayOptions() if engine == "ray" else None,
                )
                assert summary.n_processed == len(paths), summary.text()
                rates[engine].append(summary.images_per_second)
                print(
                    f"{engine}: {summary.images_per_second:.3f} images/s ({summary.seconds:.1f} s)",
                    flush=True,
                )
    ray.shutdown()
    local, on_ray = statistics.median(rates["local"]), statistics.median(rates["ray"])
    n = len(paths)
    cold = n / (n / on_ray + ray_init)
    result = {
        "images": n,
        "source": args.source,
        "crop": args.crop,
        "detector": detector.name,
        "batch_size": args.batch_size,
        "local_images_per_s": rates["local"],
        "ray_images_per_s": rates["ray"],
        "ray_workers": cpus,
        "ray_init_seconds": round(ray_init, 2),
        "ratio_ray_to_local": round(on_ray / local, 3),
        "ratio_ray_cold_to_local": round(cold / local, 3),
        "hardware": hardware,
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"{n} images{f' ({args.crop}x{args.crop} crops)' if args.crop else ''}, {detector.name}, batch {args.batch_size}: local {local:.3f} images/s, Ray ({cpus} "
        f"workers) {on_ray:.3f} images/s: ratio {on_ray / local:.2f} (with Ray's start, "
        f"{ray_init:.1f} s: {cold / local:.2f}); {hardware['description']}, load {hardware['load_average']}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
