"""The GPU check, prepared once: everything docs/performance.md needs from a CUDA machine, in
one command that takes under 8 minutes on one datacenter GPU, every result as JSON in one folder.

    python -m deal_benchmarks.gpu_check --out gpu_check/            # on a machine with a CUDA GPU
    python -m deal_benchmarks.gpu_check --out /tmp/check --tiny     # the same steps, tiny and on the CPU (tests)

Steps (each its own `deal` process with a time limit, so one failure or hang does not cost the others):

1. ``speed_off.json``, ``speed_on.json``: `deal benchmark-speed` at ViT-B, 1024², bf16, batch 8, rows 1-5
   (stock encoder, this project's encoder, detector forward, training step, `deal detect` over JPEGs),
   torch.compile off, then on.
2. ``train.json``: a 1-GPU `deal train` smoke run in bf16-mixed, 50 steps of batch 8 on synthetic edits
   (`deal data synth` of scikit-image's photos) over an official-format ViT-B SAM file with random weights
   (no network needed), the frozen encoder and SAM's 1024 input policy: images/s over the steps after the
   first 10, peak GPU memory, the slim checkpoint's size, the validation metrics.
3. ``gpu_check.json``: the hardware, each step's command, exit code, seconds and output files.

Nothing here asserts a speed; read the figures, then copy them to docs/performance.md and docs/measured.md with the hardware and date.
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

from lightning.pytorch.callbacks import Callback

REPO_ROOT = Path(__file__).resolve().parents[1]


class StepTimer(Callback):
    """Writes images/s over the training steps after `skip`, and the peak accelerator memory, to `out`."""

    def __init__(self, out: str, skip: int = 10) -> None:
        self.out, self.skip = Path(out), skip
        self.times: list[float] = []
        self.images = 0

    def on_train_start(self, trainer, pl_module) -> None:
        import torch

        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()

    def _sync(self) -> None:
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._sync()
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._sync()
        if trainer.global_step > self.skip:
            self.times.append(time.perf_counter() - self._start)
            self.images += int(batch["image"].shape[0])

    def on_train_end(self, trainer, pl_module) -> None:
        import torch

        cuda = torch.cuda.is_available()
        seconds = sum(self.times)
        result = {
            "steps_timed": len(self.times),
            "images_per_s": self.images / seconds if seconds else None,
            "seconds_per_step_median": sorted(self.times)[len(self.times) // 2] if self.times else None,
            "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if cuda else None,
            "peak_memory_kind": "torch.cuda.max_memory_allocated" if cuda else "unavailable (CPU)",
            "global_step": trainer.global_step,
            "precision": str(trainer.precision),
            "metrics": {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")},
        }
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.out.write_text(json.dumps(result, indent=2) + "\n")


def plan(tiny: bool) -> dict[str, Any]:
    """The settings of the two modes."""
    if tiny:
        return {
            "speed": ["--size", "tiny", "--image-size", "64", "--batch-sizes", "2", "--dtypes", "fp32",
                      "--device", "cpu", "--warmup", "0", "--repeats", "1", "--detect-images", "2", "--threads", "1"],
            "compile": ["off"],
            "model": {"encoder": "tiny", "input_policy": "sam", "image_size": 64, "train_encoder": False,
                      "prompts": {"scale_factor": 4}},
            "sam_size": "tiny", "synth": {"n": 8, "size": 64}, "max_steps": 3, "skip": 1, "batch": 2, "workers": 0,
            "trainer": {"accelerator": "cpu", "precision": "32-true"}, "timeout": 300,
        }
    return {
        "speed": ["--size", "vit_b", "--image-size", "1024", "--batch-sizes", "8", "--dtypes", "bf16",
                  "--device", "cuda"],
        "compile": ["off", "on"],
        "model": {"encoder": "vit_b", "input_policy": "sam", "image_size": 1024, "train_encoder": False},
        "sam_size": "vit_b", "synth": {"n": 96, "size": 512}, "max_steps": 50, "skip": 10, "batch": 8, "workers": None,
        "trainer": {"accelerator": "gpu", "devices": 1, "precision": "bf16-mixed"}, "timeout": 240,
    }


def _run(name: str, args: list[str], out: Path, timeout: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "deal.cli.main", *args]
    start = time.perf_counter()
    try:
        proc = subprocess.run(command, cwd=out, env=env, capture_output=True, text=True, timeout=timeout)
        code, tail = proc.returncode, (proc.stdout + proc.stderr)[-4000:]
    except subprocess.TimeoutExpired as err:
        code, tail = "timeout", f"killed after {timeout} s: {str(err.stderr or '')[-2000:]}"
    step = {"step": name, "command": " ".join(["deal", *args]), "exit_code": code,
            "seconds": round(time.perf_counter() - start, 1)}
    if code != 0:
        step["output_tail"] = tail
    print(f"{name}: exit {code} in {step['seconds']} s", file=sys.stderr)
    return step


def _official_sam(size: str, path: Path) -> Path:
    """An official-format SAM checkpoint with random weights (segment-anything's own modules)."""
    import torch
    from deal_benchmarks.stock_encoder import build_stock_encoder
    from segment_anything.modeling import MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    from deal.modeling.config import ENCODER_SPECS

    spec = ENCODER_SPECS[size]
    torch.manual_seed(0)
    grid = spec.pretrain_size // spec.patch_size
    sam = Sam(
        image_encoder=build_stock_encoder(size, spec.pretrain_size),
        prompt_encoder=PromptEncoder(embed_dim=spec.neck_dim, image_embedding_size=(grid, grid),
                                     input_image_size=(spec.pretrain_size,) * 2, mask_in_chans=16),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=2, embedding_dim=spec.neck_dim, mlp_dim=spec.decoder_mlp_dim,
                                          num_heads=spec.decoder_heads),
            transformer_dim=spec.neck_dim, iou_head_depth=3, iou_head_hidden_dim=256,
        ),
    )
    torch.save(sam.state_dict(), path)
    return path


STEPS = ("speed_off", "speed_on", "train")


def run_gpu_check(out: str | os.PathLike, tiny: bool = False, steps_wanted: tuple[str, ...] = STEPS) -> dict[str, Any]:
    import yaml
    from deal_data_tools.sample_photos import write_sample_photos
    from deal_data_tools.synthesis.dataset import synthesize_dataset

    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    p = plan(tiny)
    steps = []
    for mode in p["compile"]:
        if f"speed_{mode}" not in steps_wanted:
            continue
        steps.append(_run(f"speed_compile_{mode}", ["benchmark-speed", *p["speed"], "--compile", mode,
                                                    "--rows", "1,2,3,4,5", "--quiet", "--out", str(out / f"speed_{mode}.json")],
                          out, p["timeout"]))

    if "train" not in steps_wanted:
        return _summary(out, tiny, p, steps, None)
    photos = write_sample_photos(out / "work" / "photos")[0].parent
    for split, n, seed in (("train", p["synth"]["n"], 0), ("val", max(4, p["synth"]["n"] // 8), 1)):
        synthesize_dataset(photos, out / "work" / f"synth_{split}", n, seed=seed, size=p["synth"]["size"],
                           split=split, progress=False, workers=1 if tiny else None)
    sam = _official_sam(p["sam_size"], out / "work" / f"sam_{p['sam_size']}_random.pth")
    config = {
        "seed_everything": 0,
        "model": {"config": p["model"], "sam_checkpoint": str(sam), "warmup_steps": 5},
        "data": {"train": [str(out / "work" / "synth_train" / "manifest.csv")],
                 "val": [str(out / "work" / "synth_val" / "manifest.csv")],
                 "batch_size": p["batch"], "val_batch_size": p["batch"], "num_workers": p["workers"]},
        "trainer": {**p["trainer"], "max_steps": p["max_steps"], "limit_train_batches": p["max_steps"],
                    "max_epochs": 1, "num_sanity_val_steps": 0, "enable_progress_bar": False,
                    "logger": {"class_path": "lightning.pytorch.loggers.CSVLogger",
                               "init_args": {"save_dir": str(out / "work" / "runs"), "name": "train"}},
                    "callbacks": [{"class_path": "deal_benchmarks.gpu_check.StepTimer",
                                   "init_args": {"out": str(out / "train.json"), "skip": p["skip"]}}]},
    }
    cfg = out / "work" / "train_smoke.yaml"
    cfg.write_text(yaml.safe_dump(config))
    steps.append(_run("train_smoke", ["train", "--config", str(cfg)], out, p["timeout"]))
    train = json.loads((out / "train.json").read_text()) if (out / "train.json").is_file() else None
    final = next((out / "work" / "runs").rglob("final.ckpt"), None) if (out / "work" / "runs").is_dir() else None
    if train is not None and final is not None:
        train["checkpoint_bytes"] = final.stat().st_size
        (out / "train.json").write_text(json.dumps(train, indent=2) + "\n")
    return _summary(out, tiny, p, steps, train)


def _summary(out: Path, tiny: bool, p: dict[str, Any], steps: list, train: dict | None) -> dict[str, Any]:
    import torch
    from deal_benchmarks.hardware import describe_hardware

    summary = {
        "mode": "tiny (CPU)" if tiny else "gpu",
        "hardware": describe_hardware(torch.device("cpu" if tiny else "cuda")),
        "steps": steps,
        "speed": {m: str(out / f"speed_{m}.json") for m in p["compile"] if (out / f"speed_{m}.json").is_file()},
        "train": train,
    }
    (out / "gpu_check.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deal_benchmarks.gpu_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for the JSON results")
    parser.add_argument("--tiny", action="store_true", help="tiny model on the CPU: checks the script, measures nothing")
    parser.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated subset of {', '.join(STEPS)} (default all)")
    args = parser.parse_args(argv)
    wanted = tuple(s for s in args.steps.split(",") if s)
    if set(wanted) - set(STEPS):
        parser.error(f"unknown step(s) {sorted(set(wanted) - set(STEPS))}; choose from {list(STEPS)}")
    if not args.tiny:
        import torch

        if not torch.cuda.is_available():
            print("deal_benchmarks.gpu_check: no CUDA GPU here; use --tiny to check the script on the CPU", file=sys.stderr)
            return 2
    summary = run_gpu_check(args.out, tiny=args.tiny, steps_wanted=wanted)
    print(json.dumps({"steps": summary["steps"], "train": summary["train"]}, indent=2, default=str))
    return 0 if all(s["exit_code"] == 0 for s in summary["steps"]) else 1


if __name__ == "__main__":
    sys.exit(main())
