"""An ordered, memory-bounded parallel map over worker processes, for the dataset tools.

``concurrent.futures`` with the ``spawn`` start method: a forked child can inherit OpenCV's thread
pool in a locked state, and a worker that dies (e.g. the parent's ``__main__`` cannot be re-imported)
raises ``BrokenProcessPool`` instead of hanging like ``multiprocessing.Pool`` would. At most
``4 * workers`` tasks are in flight, so millions of items never become millions of futures.
As always with ``spawn``, a script that calls this with ``workers > 1`` needs the
``if __name__ == "__main__":`` guard (the console command ``deal`` has it).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def _single_threaded() -> None:
    """One item per process at a time: the pool is the parallelism. OpenCV's and torch's own thread pools
    would otherwise start one thread per core in every worker (16 workers x 16 threads on a 16-core
    machine: the TAEF2 generator's convolutions then spin-wait far more than they compute). torch reads
    OMP_NUM_THREADS when it is imported, so workers that never need it do not pay for its import."""
    import cv2

    cv2.setNumThreads(1)
    os.environ["OMP_NUM_THREADS"] = "1"
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def _init(initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
    _single_threaded()
    if initializer is not None:
        initializer(*initargs)


def ordered_map(
    fn: Callable[[T], R],
    items: Iterable[T],
    workers: int,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> Iterator[R]:
    """Yield ``fn(item)`` for each item, in order, computed by ``workers`` processes.

    ``workers == 1`` runs in this process (``initializer`` is called here; OpenCV threading is left
    alone). ``fn`` and ``initializer`` must be importable module-level functions.
    """
    if workers <= 1:
        if initializer is not None:
            initializer(*initargs)
        yield from map(fn, items)
        return
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=_init, initargs=(initializer, initargs)
    ) as pool:
        pending: deque[Future[R]] = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= 4 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
