"""Small helpers shared by the dataset tools: atomic writes, worker pools, argument snippets."""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import IO, Any, TypeVar

from deal.fileio import atomic_path

T = TypeVar("T")
R = TypeVar("R")


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path``; on success it replaces ``path`` (deal.fileio.atomic_path),
    on an exception it is removed and ``path`` is left untouched."""
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as f:
        yield f


def default_workers() -> int:
    """The CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def parallel_map(
    fn: Callable[[T], R], items: Iterable[T], *, workers: int | None, chunksize: int = 16
) -> Iterator[R]:
    """``map(fn, items)`` in input order, over a process pool when ``workers > 1`` (None: all
    CPUs), in-process otherwise. ``fn`` must be a module-level function. Results stream back as
    they are consumed; only the small per-item results are held."""
    n = default_workers() if workers is None else workers
    if n <= 1:
        yield from map(fn, items)
        return
    with ProcessPoolExecutor(max_workers=n) as pool:
        yield from pool.map(fn, items, chunksize=chunksize)


def add_workers_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="worker processes (default: all CPUs; 1 = no pool)",
    )
