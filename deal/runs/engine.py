"""The engine interface of a run, and the local engine.

An engine takes a Run and the run's windows of work (deal.runs.run.input_windows), has every wanted input
of them analysed and written (deal.runs.run.process_windows), reports each record to the run (Run.note)
and advances Run.done_upto, the inputs [0, done_upto) that have a record. The local engine does the work
in this process; the Ray engine (deal.runs.ray_engine.RayEngine) on a pool of Ray actors. Both write the
same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from deal.inference.streaming import WorkItem
from deal.runs.progress import Progress
from deal.runs.run import Run, process_windows


class Engine(Protocol):
    """Runs a run's windows (see the module docstring)."""

    def execute(
        self,
        run: Run,
        progress: Progress,
        windows: Iterable[list[WorkItem]],
        *,
        batch_size: int,
        workers: int,
        writers: int,
    ) -> None: ...


class LocalEngine:
    """The run's windows, decoded ahead by `workers` threads, analysed here, written by `writers` threads."""

    def execute(
        self,
        run: Run,
        progress: Progress,
        windows: Iterable[list[WorkItem]],
        *,
        batch_size: int,
        workers: int,
        writers: int,
    ) -> None:
        def on_record(index: int, record: dict[str, Any]) -> None:
            run.note(index, record, progress)
            run.done_upto = index + 1
            run.interim_results(upto=index + 1)

        process_windows(
            run, run.items, windows, on_record, batch_size=batch_size, workers=workers, writers=writers
        )
        run.done_upto = len(run.items)
