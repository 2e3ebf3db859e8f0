"""A large image is tiled: peak memory stays bounded. Also: deal.inference never imports lightning.

Measured in a fresh subprocess (ru_maxrss is a process-wide high-water mark). The default image is
4000x3000 (12 MP, a phone photo: about 12 s of CPU with this tiny model, where untiled attention would need
26 GB); DEAL_TEST_BIG_IMAGE=8000x6000 runs the 48 MP version (about 50 s).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import torch

from tests.inference.conftest import REPO_ROOT

TILE = 512
# The extra peak of predict() on the large image may be: a batch of 8 tiles through the model (about
# 300 MB for this encoder at 512 px) plus 8 bytes per pixel (the float32 heatmap, the mask, the
# connected-component labels: about 6 measured). Measured: 353 MB at 2000x1500, 380 MB at 4000x3000,
# 633 MB at 8000x6000.
FIXED_MB, BYTES_PER_PIXEL = 400, 8

PROBE = r"""
import json, resource, sys, time
import numpy as np, torch
from deal.modeling.config import ModelConfig, PromptConfig
from deal.modeling.mfpt import MFPT
from deal.inference.detector import Detector
import deal.runs.folder, deal.cli.detect  # the folder runner and the CLI module too
H, W, S = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
torch.manual_seed(0)
cfg = ModelConfig(encoder="tiny", image_size=S, input_policy="native", train_encoder=True,
                  prompts=PromptConfig(input_prompter=False, feature_prompter=False))
det = Detector(MFPT(cfg), None, "cpu")
det.predict(np.zeros((S, S, 3), np.uint8))  # warm-up
img = np.empty((H, W, 3), np.uint8)
img[:] = (np.arange(W, dtype=np.uint32) * 7 % 251).astype(np.uint8)[None, :, None]
rss_mb = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
before = rss_mb(); t = time.perf_counter(); d = det.predict(img); dt = time.perf_counter() - t
print(json.dumps({"extra_mb": rss_mb() - before, "seconds": dt, "shape": list(d.heatmap.shape),
                  "min": float(d.heatmap.min()), "max": float(d.heatmap.max()),
                  "inference": det.inference_mode_of(H, W),
                  "lightning": sorted(m for m in sys.modules if m.split(".")[0] in ("lightning", "pytorch_lightning"))}))
"""


def test_large_image_memory_is_bounded_by_tiling():
    w, h = map(int, os.environ.get("DEAL_TEST_BIG_IMAGE", "4000x3000").split("x"))
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), OMP_NUM_THREADS=str(torch.get_num_threads()))
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, str(h), str(w), str(TILE)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"{w}x{h}: extra peak {result['extra_mb']:.0f} MB in {result['seconds']:.1f} s")
    assert result["lightning"] == []
    assert result["inference"] == "tiled" and result["shape"] == [h, w]
    assert 0.0 <= result["min"] <= result["max"] <= 1.0
    # Untiled, the tiny encoder's global-attention blocks alone would hold a (heads x N x N) float32
    # matrix over N = (h/16)(w/16) tokens: 1.7 GB at 2000x1500, 26 GB at 4000x3000, 393 GB at 8000x6000.
    bound_mb = FIXED_MB + BYTES_PER_PIXEL * h * w / 2**20
    tokens = -(-h // 16) * -(-w // 16)
    untiled_attention_mb = 3 * tokens**2 * 4 / 2**20
    assert untiled_attention_mb > 3 * bound_mb
    assert result["extra_mb"] < bound_mb
