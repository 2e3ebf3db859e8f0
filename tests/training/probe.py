"""A callback for the multi-process tests: each process appends what it trained on to OUT/rank<R>.jsonl."""

from __future__ import annotations

import json
from pathlib import Path

from lightning.pytorch.callbacks import Callback


class RecordSamples(Callback):
    def __init__(self, out: str) -> None:
        self.out = Path(out)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        row = {
            "rank": trainer.global_rank,
            "world_size": trainer.world_size,
            "epoch": trainer.current_epoch,
            "step": trainer.global_step,
            "names": list(batch["name"]),
        }
        with open(self.out / f"rank{trainer.global_rank}.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
