"""Run progress on stderr: a tqdm bar on a terminal, plain log lines otherwise, nothing when quiet."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Counts inputs as they are resolved (processed, skipped as already done, or failed).

    Args:
        total: number of inputs.
        quiet: no bar and no log lines (failures are still printed by message()).
        stream: where to print (stderr).
        interval: seconds between plain log lines when `stream` is not a terminal.
        prefix: the first word of every line.
    """

    def __init__(
        self,
        total: int,
        *,
        quiet: bool = False,
        stream: TextIO | None = None,
        interval: float = 10.0,
        prefix: str = "deal detect",
    ) -> None:
        self.stream = stream or sys.stderr
        self.total, self.quiet, self.interval, self.prefix = total, quiet, interval, prefix
        self.processed = self.skipped = self.failed = 0
        self.start = self._last_line = time.perf_counter()
        self._bar = None
        isatty = getattr(self.stream, "isatty", lambda: False)
        if not quiet and isatty():
            from tqdm import tqdm

            self._bar = tqdm(
                total=total,
                file=self.stream,
                unit="img",
                dynamic_ncols=True,
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]",
            )

    @property
    def done(self) -> int:
        return self.processed + self.skipped + self.failed

    @property
    def images_per_second(self) -> float:
        """Images inferred in this run per second of wall time (skipped ones not counted)."""
        dt = time.perf_counter() - self.start
        return self.processed / dt if dt > 0 else 0.0

    def _status(self) -> str:
        # Three significant digits: a slow model on a CPU still reads as a rate, not "0.0 images/s".
        parts = [f"{self.images_per_second:.3g} images/s" if self.processed else "first images in progress"]
        if self.skipped:
            parts.append(f"{self.skipped} already done")
        if self.failed:
            parts.append(f"{self.failed} failed")
        return ", ".join(parts)

    def advance(self, *, processed: int = 0, skipped: int = 0, failed: int = 0) -> None:
        self.processed += processed
        self.skipped += skipped
        self.failed += failed
        n = processed + skipped + failed
        if self._bar is not None:
            self._bar.set_postfix_str(self._status(), refresh=False)
            self._bar.update(n)
        elif not self.quiet and n:
            now = time.perf_counter()
            if now - self._last_line >= self.interval:
                self._last_line = now
                print(
                    f"{self.prefix}: {self.done}/{self.total} images, {self._status()}",
                    file=self.stream,
                    flush=True,
                )

    def message(self, text: str) -> None:
        """A line on stderr that does not break the bar. Printed even when quiet: it is for failures."""
        if self._bar is not None:
            self._bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
