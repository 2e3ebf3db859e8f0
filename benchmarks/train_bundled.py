"""Train the bundled detector and its ablation in one command: the data of two recipes, four training runs
at equal steps side by side on one GPU, each exported to a detector file.

    python -m deal_benchmarks.train_bundled --photos PHOTOS --val-photos VAL_PHOTOS --generator TAEF2_DIR \\
        --work bundled/ --export-to detectors/                     # one CUDA GPU, about 8 minutes
    python -m deal_benchmarks.train_bundled ... --tiny              # the same steps, tiny and on the CPU (tests)

Recipes (``deal data synth`` settings plus the training augmentations):

- ``previous``: the data the shipped detector was trained on: classic edits weighted towards inpainting and
  resampling, backgrounds resized by 0.5-1.5 (a third upsampled), JPEG in half the images, and robustness
  augmentations (JPEG, blur, noise, down-up) on about 40% of the training samples;
- ``edit_trace``: regions that miss the finest band as a diffusion model's output does (``lowres``) weighted
  up, the TAEF2 operations, half of the authentic images round-tripped through TAEF2, backgrounds only
  downscaled (0.3-1.0), and augmentations that erase the finest band on about 14% of the samples.

Arms: MFPT's bands (``paper``) or MFPT's bands plus the band-energy stem (``band_energy``), on each recipe.
Every arm gets the same steps, batch, seed and schedule (`configs/bundled_edit_trace.yaml` with the arm's
prompts, data and augmentations). Results: ``train_bundled.json`` (per arm: steps, seconds, images/s,
the last logged losses, validation metrics) and one detector file per arm.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
BASE_CONFIG = REPO_ROOT / "configs" / "bundled_edit_trace.yaml"

RECIPES: dict[str, dict[str, Any]] = {
    "previous": {
        "synth": {
            "weights": {"inpaint": 2, "resample": 3, "splice": 1, "copymove": 1, "color": 0.5, "texture": 0.5},
            "scale_range": (0.5, 1.5),
            "jpeg_prob": 0.5,
            "generator": False,
            "authentic_regen": 0.0,
        },
        "augment": {"jpeg_quality": [60, 100], "jpeg_p": 0.3, "blur": 0.1, "noise": 0.1, "downscale": 0.1},
    },
    "edit_trace": {
        "synth": {
            "weights": {
                "lowres": 3, "splice": 1, "copymove": 1, "regenerate": 0.5, "latent_splice": 0.5,
                "hallucinate": 0.5, "full_regen": 0.5, "latent_upsample": 0.25, "inpaint": 0.25,
                "resample": 0.5, "color": 0.5, "texture": 0.5,
            },
            "scale_range": (0.3, 1.0),
            "jpeg_prob": 0.3,
            "generator": True,
            "authentic_regen": 0.5,
        },
        "augment": {"jpeg_quality": [75, 100], "jpeg_p": 0.1, "blur": 0.02, "noise": 0.0, "downscale": 0.02},
    },
}
ARMS: dict[str, tuple[str, bool]] = {  # name: (recipe, band-energy stem)
    "paper_previous": ("previous", False),
    "band_energy_previous": ("previous", True),
    "paper_edit_trace": ("edit_trace", False),
    "band_energy_edit_trace": ("edit_trace", True),
}


def make_data(recipe: str, photos: Path, val_photos: Path, generator: Path | None, work: Path,
              n_train: int, n_val: int, size: int, workers: int | None) -> dict[str, str]:
    """Synthesize the recipe's training set (from ``photos``) and validation set (from ``val_photos``)."""
    from deal_data_tools.synthesis.dataset import synthesize_dataset

    s = RECIPES[recipe]["synth"]
    gen = generator if s["generator"] else None
    if s["generator"] and generator is None:
        raise ValueError(f"recipe {recipe!r} needs --generator")
    out = {}
    for split, src, n, seed in (("train", photos, n_train, 21), ("val", val_photos, n_val, 22)):
        folder = work / "synth" / f"{recipe}_{split}"
        synthesize_dataset(
            src, folder, n, seed=seed, size=size, split=split, weights=s["weights"], jpeg_prob=s["jpeg_prob"],
            generator=gen, authentic_regen=s["authentic_regen"] if gen else 0.0, scale_range=s["scale_range"],
            workers=workers, progress=False,
        )
        out[split] = str(folder / "manifest.csv")
    return out


def arm_config(arm: str, data: dict[str, dict[str, str]], work: Path, *, max_steps: int, max_time: str | None,
               tiny: bool, batch_size: int | None, workers: int) -> Path:
    """The arm's complete training config (the base config with the arm's prompts, data and augmentations)."""
    import yaml

    recipe, band_energy = ARMS[arm]
    config = yaml.safe_load(BASE_CONFIG.read_text())
    config["model"]["config"]["prompts"]["band_energy"] = band_energy
    config["data"].update(RECIPES[recipe]["augment"])
    config["data"]["train"] = [data[recipe]["train"]]
    config["data"]["val"] = [data[recipe]["val"]]
    config["data"]["num_workers"] = workers
    trainer = config["trainer"]
    trainer["max_steps"] = max_steps
    trainer["val_check_interval"] = max_steps
    trainer["default_root_dir"] = str(work / "runs" / arm)
    trainer["logger"] = {"class_path": "lightning.pytorch.loggers.CSVLogger",
                         "init_args": {"save_dir": str(work / "runs"), "name": arm, "version": "run"}}
    if max_time:
        trainer["max_time"] = max_time
    if tiny:
        trainer.update({"accelerator": "cpu", "precision": "32-true"})
        config["data"].update({"batch_size": 2, "val_batch_size": 2, "crop_size": None, "limit_val": 4})
        config["model"]["warmup_steps"] = 1
    if batch_size:
        config["data"]["batch_size"] = config["data"]["val_batch_size"] = batch_size
    path = work / "configs" / f"{arm}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _metrics_csv(folder: Path) -> dict[str, Any]:
    """The last value of each column of a CSVLogger's metrics.csv (training loss, validation metrics)."""
    import csv

    path = folder / "metrics.csv"
    if not path.is_file():
        return {}
    last: dict[str, Any] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            for k, v in row.items():
                if v not in ("", None):
                    last[k] = float(v)
    return last


def train_arms(arms: list[str], data: dict[str, dict[str, str]], work: Path, *, max_steps: int,
               max_time: str | None, tiny: bool, batch_size: int | None, workers: int) -> dict[str, Any]:
    """Start one `deal train` per arm, all at once (one GPU is far from full with the tiny encoder)."""
    procs = {}
    for arm in arms:
        cfg = arm_config(arm, data, work, max_steps=max_steps, max_time=max_time, tiny=tiny,
                         batch_size=batch_size, workers=workers)
        log = open(work / f"{arm}.log", "w")
        procs[arm] = (subprocess.Popen([sys.executable, "-m", "deal.cli.main", "train", "--config", str(cfg)],
                                       cwd=work, stdout=log, stderr=subprocess.STDOUT), time.perf_counter(), log)
    results = {}
    for arm, (proc, start, log) in procs.items():
        code = proc.wait()
        log.close()
        seconds = time.perf_counter() - start
        metrics = _metrics_csv(work / "runs" / arm / "run")
        steps = int(metrics.get("step", 0)) + 1 if metrics else None
        results[arm] = {"exit_code": code, "wall_seconds": round(seconds, 1), "last_logged": metrics,
                        "log_tail": (work / f"{arm}.log").read_text()[-1500:]}
        ckpt = work / "runs" / arm / "run" / "checkpoints" / "final.ckpt"
        if ckpt.is_file():
            import torch

            state = torch.load(ckpt, map_location="cpu", weights_only=True)
            results[arm]["global_step"] = int(state.get("global_step", steps or 0))
            results[arm]["checkpoint"] = str(ckpt)
    return results


def export_arms(checkpoints: dict[str, str], out: Path, *, device: str, full_precision: str) -> dict[str, Any]:
    """`deal export` of every arm at once (thresholds calibrated on the arm's validation set); all but
    `full_precision` are then stored as float16 tensors (smaller files; the weights load into float32)."""
    procs = {}
    for arm, ckpt in checkpoints.items():
        path = out / f"{arm}.safetensors"
        command = [sys.executable, "-m", "deal.cli.main", "export", ckpt, "--out", str(path),
                   "--name", f"bundled-{arm}", "--device", device]
        procs[arm] = (path, subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    infos: dict[str, Any] = {}
    for arm, (path, proc) in procs.items():
        output = proc.communicate()[0]
        infos[arm] = {"exit_code": proc.returncode, "output_tail": output[-1500:], "file": str(path)}
        if proc.returncode == 0 and arm != full_precision:
            from safetensors import safe_open
            from safetensors.torch import save_file

            with safe_open(str(path), "pt") as f:
                metadata = f.metadata()
                tensors = {k: f.get_tensor(k) for k in f.keys()}
            save_file({k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}, str(path),
                      metadata=metadata)
    return infos


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deal_benchmarks.train_bundled",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", required=True, type=Path, help="authentic photos for training")
    parser.add_argument("--val-photos", required=True, type=Path, help="authentic photos for validation")
    parser.add_argument("--generator", type=Path, help="TAEF2 folder (the edit_trace recipe needs it)")
    parser.add_argument("--work", required=True, type=Path, help="working folder (data, runs, configs)")
    parser.add_argument("--export-to", type=Path, help="folder for the detector files and train_bundled.json")
    parser.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated, of {', '.join(ARMS)}")
    parser.add_argument("--n-train", type=int, default=3000)
    parser.add_argument("--n-val", type=int, default=200)
    parser.add_argument("--size", type=int, default=256, help="synthetic crop side")
    parser.add_argument("--max-steps", type=int, default=3000)
    parser.add_argument("--max-time", default=None, help="Lightning's max_time per arm, DD:HH:MM:SS (a cap)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the base config's (32)")
    parser.add_argument("--loader-workers", type=int, default=3, help="data-loader workers per arm")
    parser.add_argument("--synth-workers", type=int, default=None)
    parser.add_argument("--full-precision-arm", default="band_energy_edit_trace",
                        help="the arm exported in float32; the others in float16 (smaller files)")
    parser.add_argument("--data-only", action="store_true", help="make the data and stop (a rerun reuses it)")
    parser.add_argument("--tiny", action="store_true", help="tiny and on the CPU: checks the steps, measures nothing")
    args = parser.parse_args(argv)
    arms = [a for a in args.arms.split(",") if a]
    unknown = sorted(set(arms) - set(ARMS))
    if unknown:
        parser.error(f"unknown arm(s) {unknown}; choose from {list(ARMS)}")
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"arms": arms, "max_steps": args.max_steps, "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    t0 = time.perf_counter()
    data = {}
    for recipe in sorted({ARMS[a][0] for a in arms}):
        start = time.perf_counter()
        data[recipe] = make_data(recipe, args.photos, args.val_photos, args.generator, work, args.n_train,
                                 args.n_val, args.size, args.synth_workers)
        summary.setdefault("synth_seconds", {})[recipe] = round(time.perf_counter() - start, 1)
        print(f"data {recipe}: {summary['synth_seconds'][recipe]} s", file=sys.stderr, flush=True)
    if args.data_only:
        return 0
    summary["train"] = train_arms(arms, data, work, max_steps=args.max_steps, max_time=args.max_time,
                                  tiny=args.tiny, batch_size=args.batch_size, workers=args.loader_workers)
    print(f"trained: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    if args.export_to:
        args.export_to.mkdir(parents=True, exist_ok=True)
        device = "cpu" if args.tiny else "cuda"
        checkpoints = {arm: r["checkpoint"] for arm, r in summary["train"].items() if r.get("checkpoint")}
        summary["export"] = export_arms(checkpoints, args.export_to, device=device,
                                        full_precision=args.full_precision_arm)
        (args.export_to / "train_bundled.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    (work / "train_bundled.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(json.dumps({a: {k: v for k, v in r.items() if k != "log_tail"} for a, r in summary["train"].items()},
                     indent=1, default=str))
    ok = all(r["exit_code"] == 0 for r in summary["train"].values())
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
