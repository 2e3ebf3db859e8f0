"""Train the bundled detector's recipe and its ablations in one command, for one GPU call: the data, the arms at
equal steps side by side, each exported and calibrated, and the GPU check, every result under one folder.

    python -m deal_benchmarks.train_bundled --photos PHOTOS --val-photos VAL_PHOTOS --work $OUT/work \
        --export-to $OUT --max-time 00:00:05:00 --gpu-check         # one CUDA GPU, within one 10-minute call
    python -m deal_benchmarks.train_bundled ... --tiny               # the same steps, tiny and on the CPU (tests)

The data are made where the command runs (``deal data synth`` with ``--synth-workers``, about 30 images/s per
core), never carried: 9,000 training and 300 validation images of the ``trace`` recipe below. Every arm
starts from ``configs/bundled_trace_residual.yaml`` and differs from it in one switch, so that the arms are
comparable at equal steps, batch, seed and schedule:

- ``trace_residual``: the recipe as shipped (band-energy stem, output as a residual on the spectral-slope cue
  and its region-sized average, edits paired with their originals);
- ``high_res``: with the high-resolution path;
- ``no_smoothing``: the residual on the cue alone, starting from the baseline's map;
- ``no_pairs``: without the paired originals (edits and authentic images as they come);
- ``paper``: MFPT's bands only (no stem, no cue residual), paired originals kept.

Recipe ``trace`` (``deal data synth`` settings): edits weighted towards ``lowres`` (regions that miss the finest
band as a diffusion model's output does), region sizes log-uniform in 3-75% of the image (CoCoGlide: median 16%,
5th-95th percentile 3-75%), regions placed uniformly over the frame (``--placement uniform``), backgrounds only
downscaled (0.55-1.0), JPEG in half the images, every edit's original written.

Each arm is exported with thresholds calibrated on ``--calibration`` (default: the manifest of
``deal_benchmarks.calibration_set``: half of the CoCoGlide development split plus BSDS500 test and Kodak, made
when the development split is beside the repository). Results: ``train_bundled.json`` (per arm: steps, seconds,
the last logged losses and validation metrics, the export's output) and ``<arm>.safetensors``; with
``--gpu-check``, ``python -m deal_benchmarks.gpu_check`` writes its results under ``gpu_check/``.
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
BASE_CONFIG = REPO_ROOT / "configs" / "bundled_trace_residual.yaml"

# deal data synth settings of the recipe (the bundled config's header gives the same as commands)
TRACE_SYNTH: dict[str, Any] = {
    "weights": {"lowres": 4, "resample": 1, "splice": 1, "copymove": 0.5, "color": 0.5, "texture": 0.5, "inpaint": 0.25},
    "scale_range": (0.55, 1.0),
    "fraction_range": (0.03, 0.75),
    "placement": "uniform",
    "authentic_share": 0.1,
    "jpeg_prob": 0.5,
}  # fmt: skip
# Each arm: the changes to the base config (model.config keys and data keys).
ARMS: dict[str, dict[str, dict[str, Any]]] = {
    "trace_residual": {},
    "high_res": {"model": {"high_res_path": True}},
    "no_smoothing": {"model": {"cue_smoothing": [], "cue_init": []}},
    "no_pairs": {"data": {"paired_originals": False}},
    "paper": {"model": {"cue_residual": False, "cue_smoothing": [], "cue_init": [], "prompts": {"band_energy": False}}},
}


def make_data(photos: Path, val_photos: Path, work: Path, n_train: int, n_val: int, size: int,
              workers: int | None) -> dict[str, str]:
    """Synthesize the recipe's training set (from ``photos``) and validation set (from ``val_photos``)."""
    from deal_data_tools.synthesis.dataset import synthesize_dataset

    out = {}
    for split, src, n, seed in (("train", photos, n_train, 7), ("val", val_photos, n_val, 1)):
        folder = work / "synth" / f"trace_{split}"
        synthesize_dataset(src, folder, n, seed=seed, size=size, split=split, workers=workers, progress=False,
                           **TRACE_SYNTH)
        out[split] = str(folder / "manifest.csv")
    return out


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        if isinstance(value, dict):
            _merge(base.setdefault(key, {}), value)
        else:
            base[key] = value


def arm_config(arm: str, data: dict[str, str], work: Path, *, max_steps: int, max_time: str | None,
               tiny: bool, batch_size: int | None, workers: int) -> Path:
    """The arm's complete training config: the base config with the arm's changes, data and trainer."""
    import yaml

    config = yaml.safe_load(BASE_CONFIG.read_text())
    _merge(config["model"]["config"], ARMS[arm].get("model", {}))
    _merge(config["data"], ARMS[arm].get("data", {}))
    config["data"]["train"] = [data["train"]]
    config["data"]["val"] = [data["val"]]
    config["data"]["num_workers"] = workers
    trainer = config["trainer"]
    trainer.pop("callbacks", None)
    trainer["max_steps"] = max_steps
    trainer["val_check_interval"] = max_steps
    trainer["default_root_dir"] = str(work / "runs" / arm)
    trainer["logger"] = {"class_path": "lightning.pytorch.loggers.CSVLogger",
                         "init_args": {"save_dir": str(work / "runs"), "name": arm, "version": "run"}}
    if max_time:
        trainer["max_time"] = max_time
    if not tiny:
        trainer.update({"accelerator": "gpu", "devices": 1, "precision": "bf16-mixed"})
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


def train_arms(arms: list[str], data: dict[str, str], work: Path, *, max_steps: int,
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


def export_arms(checkpoints: dict[str, str], out: Path, *, device: str, full_precision: str,
                calibration: str | None) -> dict[str, Any]:
    """`deal export` of every arm at once, thresholds calibrated on ``calibration`` (default: the arm's validation
    set); all but `full_precision` are then stored as float16 tensors (smaller files; they load into float32)."""
    procs = {}
    for arm, ckpt in checkpoints.items():
        path = out / f"{arm}.safetensors"
        command = [sys.executable, "-m", "deal.cli.main", "export", ckpt, "--out", str(path),
                   "--name", f"bundled-{arm}", "--device", device] + (["--val", calibration] if calibration else [])
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


def _calibration(path: Path | None, work: Path) -> str | None:
    """The calibration manifest: ``path``, else calibration_set's when the development split is there."""
    if path is not None:
        return str(path)
    from deal_benchmarks.calibration_set import DEV
    from deal_benchmarks.calibration_set import main as write_calibration_set

    if not (DEV / "IDS.txt").is_file():
        return None
    manifest = work / "calibration" / "manifest.csv"
    return str(manifest) if write_calibration_set(["--out", str(manifest)]) == 0 else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deal_benchmarks.train_bundled",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", required=True, type=Path, help="authentic photos for training")
    parser.add_argument("--val-photos", required=True, type=Path, help="authentic photos for validation")
    parser.add_argument("--calibration", type=Path, default=None,
                        help="calibration manifest for the exports (default: deal_benchmarks.calibration_set's, "
                        "when the development split is beside the repository; else each arm's validation set)")
    parser.add_argument("--gpu-check", action="store_true",
                        help="then run python -m deal_benchmarks.gpu_check into EXPORT_TO/gpu_check")
    parser.add_argument("--work", required=True, type=Path, help="working folder (data, runs, configs)")
    parser.add_argument("--export-to", type=Path, help="folder for the detector files and train_bundled.json")
    parser.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated, of {', '.join(ARMS)}")
    parser.add_argument("--n-train", type=int, default=9000)
    parser.add_argument("--n-val", type=int, default=300)
    parser.add_argument("--size", type=int, default=256, help="synthetic crop side")
    parser.add_argument("--max-steps", type=int, default=3000)
    parser.add_argument("--max-time", default=None, help="Lightning's max_time per arm, DD:HH:MM:SS (a cap)")
    parser.add_argument("--batch-size", type=int, default=None, help="records per step (default: the base config's, 4)")
    parser.add_argument("--loader-workers", type=int, default=3, help="data-loader workers per arm")
    parser.add_argument("--synth-workers", type=int, default=None)
    parser.add_argument("--full-precision-arm", default="trace_residual",
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
    start = time.perf_counter()
    data = make_data(args.photos, args.val_photos, work, args.n_train, args.n_val, args.size, args.synth_workers)
    summary["synth_seconds"] = round(time.perf_counter() - start, 1)
    print(f"data: {summary['synth_seconds']} s", file=sys.stderr, flush=True)
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
                                        full_precision=args.full_precision_arm,
                                        calibration=_calibration(args.calibration, work))
        # written now (the detectors are safe if what follows fails), and again at the end
        (args.export_to / "train_bundled.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    if args.gpu_check and args.export_to:
        from deal_benchmarks import gpu_check

        check = gpu_check.run_gpu_check(args.export_to / "gpu_check", tiny=args.tiny)
        summary["gpu_check"] = [{k: s.get(k) for k in ("step", "exit_code")} for s in check["steps"]]
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    for folder in (work, args.export_to) if args.export_to else (work,):
        (folder / "train_bundled.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(json.dumps({a: {k: v for k, v in r.items() if k != "log_tail"} for a, r in summary["train"].items()},
                     indent=1, default=str))
    ok = all(r["exit_code"] == 0 for r in summary["train"].values())
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
