"""Retention: which ended jobs `deal serve` deletes so that its data folder stays within an age and a size.

Applied when the server starts and after each job ends. Only ended jobs (done or failed) are deleted,
never one that is queued or running:

1. every job that ended more than ``max_age`` seconds ago;
2. then, while all the jobs together (queued and running ones included) hold more than ``max_bytes``,
   the job that ended first, except the one that ended last: a job's results can always be fetched once
   it has ended, even when that job alone is over the limit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

DEFAULT_KEEP_DAYS = 7.0
DEFAULT_KEEP_GB = 10.0
DAY = 86_400.0


@dataclass(frozen=True)
class Retention:
    """Keep ended jobs at most `max_age` seconds after they ended, and all jobs within `max_bytes`."""

    max_age: float = DEFAULT_KEEP_DAYS * DAY
    max_bytes: int = int(DEFAULT_KEEP_GB * 2**30)

    def __post_init__(self) -> None:
        if not self.max_age > 0:
            raise ValueError(f"the retention age must be > 0, got {self.max_age}")
        if self.max_bytes < 1:
            raise ValueError(f"the retention size must be >= 1 byte, got {self.max_bytes}")


@dataclass(frozen=True)
class StoredJob:
    """What retention needs to know of a job: its id, whether and when it ended, its size on disk."""

    id: str
    ended_at: float | None  # None: queued or running
    bytes: int


def jobs_to_delete(jobs: Iterable[StoredJob], retention: Retention, now: float) -> list[str]:
    """The ids of the ended jobs to delete, in the order given by the rules above."""
    jobs = list(jobs)
    ended = sorted((j for j in jobs if j.ended_at is not None), key=lambda j: (j.ended_at, j.id))
    doomed = [j for j in ended if now - j.ended_at > retention.max_age]
    total = sum(j.bytes for j in jobs) - sum(j.bytes for j in doomed)
    for job in ended[len(doomed) : -1]:  # oldest first; the last to end is kept
        if total <= retention.max_bytes:
            break
        doomed.append(job)
        total -= job.bytes
    return [j.id for j in doomed]
