"""`deal train`'s progress bar: one bar over the whole run (steps done of max_steps, rate, time left).

Lightning's TQDMProgressBar restarts its bar every epoch, so with a step budget (`trainer.max_steps`) its
time estimate is the epoch's, not the run's; this subclass counts optimizer steps against max_steps and
keeps one clock. Without a step budget it is Lightning's bar unchanged.
"""

from __future__ import annotations

from typing import Any

from lightning.pytorch.callbacks import TQDMProgressBar


class StepProgressBar(TQDMProgressBar):
    def __init__(self, refresh_rate: int = 1) -> None:
        super().__init__(refresh_rate=refresh_rate)
        self._started = False

    @staticmethod
    def _max_steps(trainer: Any) -> int:
        return trainer.max_steps if trainer.max_steps and trainer.max_steps > 0 else 0

    def on_train_epoch_start(self, trainer: Any, *args: Any) -> None:
        total = self._max_steps(trainer)
        if not total:
            return super().on_train_epoch_start(trainer, *args)
        bar = self.train_progress_bar
        if not self._started:  # one reset for the run: tqdm's clock (and its time estimate) starts here
            bar.reset(total=total)
            bar.n = trainer.global_step  # a resumed run starts where it stopped
            bar.refresh()
            self._started = True
        bar.set_description(f"Step (epoch {trainer.current_epoch})")

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        total = self._max_steps(trainer)
        if not total:
            return super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        bar = self.train_progress_bar
        n = min(trainer.global_step, total)
        if bar is not None and self._should_update(n, total):
            bar.n = n
            bar.set_postfix(self.get_metrics(trainer, pl_module))  # refreshes the bar

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if not self._max_steps(trainer):
            return super().on_train_epoch_end(trainer, pl_module)
        if not self.train_progress_bar.disable:
            self.train_progress_bar.set_postfix(self.get_metrics(trainer, pl_module))
