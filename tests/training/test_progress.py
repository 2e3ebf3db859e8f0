"""deal train's progress bar counts optimizer steps against max_steps over the whole run, across epochs."""

from __future__ import annotations

import lightning as L
from lightning.pytorch.demos.boring_classes import BoringModel

from deal.training.progress import StepProgressBar


class _Bar(StepProgressBar):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[int, int]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        self.seen.append((self.train_progress_bar.n, self.train_progress_bar.total))


def test_one_bar_over_every_step_of_the_run(tmp_path):
    bar = _Bar()
    model = BoringModel()  # 64 batches an epoch
    trainer = L.Trainer(
        max_steps=100, limit_train_batches=30, limit_val_batches=0, callbacks=[bar], logger=False,
        enable_checkpointing=False, enable_model_summary=False, default_root_dir=tmp_path,
    )
    trainer.fit(model)
    # 4 epochs of 30 batches (the last cut at step 100), one bar: n runs 1..100 against a total of 100
    assert [n for n, _ in bar.seen] == list(range(1, 101))
    assert {total for _, total in bar.seen} == {100}
    tqdm = bar.train_progress_bar
    assert tqdm.desc.startswith("Step (epoch 3)") and tqdm.format_dict["elapsed"] > 0  # one clock: the ETA's
