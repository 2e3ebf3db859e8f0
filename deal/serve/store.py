"""JobStore: the jobs of `deal serve` under ``<data>/jobs``, the queue of those to run, and what is kept.

A folder without job.json is an upload that never completed and is removed at start; a job without
state.json was queued or running when the server stopped and is queued again (run_detection skips the
inputs already done, so the outputs are byte-identical to an uninterrupted run). The queue's limit is
held by slots: a request reserves one before its body is read, and its job takes it over, so that
concurrent uploads can never overrun the limit. Ended jobs are deleted by a client (DELETE) or by the
retention rules (deal.serve.retention), applied at start and after each job.
"""

from __future__ import annotations

import logging
import queue
import secrets
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from deal.serve.data_lock import DataFolderLock
from deal.serve.errors import RequestRefused
from deal.serve.job import ID_LENGTH, JOB_FILE, JOBS_DIR, Job, JobOptions, folder_bytes, is_job_id
from deal.serve.retention import Retention, StoredJob, jobs_to_delete

log = logging.getLogger("deal.serve")


@dataclass
class Slot:
    """A place in the queue, reserved for a job that is being created (taken over by submit)."""

    taken: bool = False


class JobStore:
    """The jobs under ``<data>/jobs``: created, queued, looked up, deleted and kept within `retention`.

    Args:
        data: the data folder (created if needed).
        max_queued: jobs queued or running at once (and slots reserved for jobs being created).
        retention: how long ended jobs are kept and how many bytes all jobs may hold.
        lock: the data folder's lock, already held (None: taken here).
    """

    def __init__(
        self,
        data: Path,
        *,
        max_queued: int = 100,
        retention: Retention | None = None,
        lock: DataFolderLock | None = None,
    ) -> None:
        self.data_lock = lock if lock is not None else DataFolderLock(data)
        self.root = Path(data) / JOBS_DIR
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_queued = max_queued
        self.retention = retention if retention is not None else Retention()
        self.jobs: dict[str, Job] = {}
        self.lock = threading.Lock()
        self.queue: queue.Queue[Job | None] = queue.Queue()
        self._reserved = 0
        self.recover()
        self.apply_retention()

    def close(self) -> None:
        """Releases the data folder (once the worker has stopped)."""
        self.data_lock.close()

    def recover(self) -> None:
        """Loads the jobs on disk: ended ones as they ended, the others queued again (oldest first)."""
        pending = []
        for folder in sorted(self.root.iterdir()):
            if not (folder.is_dir() and is_job_id(folder.name)):
                continue
            if not (folder / JOB_FILE).is_file():
                shutil.rmtree(folder, ignore_errors=True)  # an upload cut off before it completed
                continue
            try:
                job = Job.read(folder)
            except (OSError, ValueError, KeyError, TypeError) as err:
                log.warning("%s: skipped, unreadable job: %s", folder, err)
                continue
            self.jobs[job.id] = job
            if job.state == "queued":
                pending.append(job)
        for job in sorted(pending, key=lambda j: j.created):
            log.info("job %s: resumed", job.id)
            self.queue.put(job)

    # --- creating jobs --------------------------------------------------------------------------
    @contextmanager
    def reserve(self) -> Iterator[Slot]:
        """A slot in the queue for the job about to be created, released unless submit takes it.

        Raises:
            RequestRefused: 503 when max_queued jobs are queued, running or being created.
        """
        with self.lock:
            if self._pending() + self._reserved >= self.max_queued:
                raise RequestRefused(503, f"{self.max_queued} jobs are waiting already; try again later.")
            self._reserved += 1
        slot = Slot()
        try:
            yield slot
        finally:
            with self.lock:
                if not slot.taken:
                    self._reserved -= 1

    def new_folder(self) -> tuple[str, Path]:
        job_id = secrets.token_hex(ID_LENGTH // 2)
        folder = self.root / job_id
        folder.mkdir()
        return job_id, folder

    def submit(
        self,
        job_id: str,
        folder: Path,
        inputs: Sequence[str],
        options: JobOptions,
        n_inputs: int,
        roots: Sequence[str] = (),
        slot: Slot | None = None,
    ) -> Job:
        """Writes job.json (the job exists from then on) and queues the job, in the reserved `slot`.
        roots: the allowed roots that server-side inputs must stay in (checked again when the job starts);
        empty for uploads."""
        job = Job(job_id, folder, list(inputs), options, n_inputs, created=time.time(), roots=list(roots))
        job.write_spec()
        with self.lock:
            self.jobs[job_id] = job
            if slot is not None and not slot.taken:
                slot.taken = True
                self._reserved -= 1
        self.queue.put(job)
        return job

    # --- looking up and running -----------------------------------------------------------------
    def get(self, job_id: str) -> Job | None:
        with self.lock:
            return self.jobs.get(job_id) if is_job_id(job_id) else None

    def pending(self) -> int:
        with self.lock:
            return self._pending()

    def _pending(self) -> int:
        return sum(j.state in ("queued", "running") for j in self.jobs.values())

    def start_running(self, job: Job) -> bool:
        """Marks a queued job running; False for one deleted since it was queued."""
        with self.lock:
            if self.jobs.get(job.id) is not job or job.state != "queued":
                return False
            job.state = "running"
            return True

    # --- deleting -------------------------------------------------------------------------------
    def delete(self, job_id: str) -> int:
        """Deletes a queued or ended job and its folder; returns the bytes freed.

        Raises:
            RequestRefused: 404 no such job; 409 the job is running.
        """
        with self.lock:
            job = self.jobs.get(job_id) if is_job_id(job_id) else None
            if job is None:
                raise RequestRefused(404, f"no job {job_id[:64]!r}.")
            if job.state == "running":
                raise RequestRefused(409, f"job {job_id} is running; delete it once it has ended.")
            del self.jobs[job_id]
        return self._remove(job)

    def _remove(self, job: Job) -> int:
        freed = job.bytes if job.bytes is not None else folder_bytes(job.folder)
        shutil.rmtree(job.folder, ignore_errors=True)
        log.info("job %s: deleted (%d bytes)", job.id, freed)
        return freed

    def apply_retention(self, now: float | None = None) -> list[str]:
        """Deletes the ended jobs that the retention rules say to; returns their ids."""
        with self.lock:
            jobs = list(self.jobs.values())
        stored = []
        for job in jobs:
            if job.has_ended and job.bytes is None:
                job.bytes = folder_bytes(job.folder)  # an ended job's folder no longer changes
            size = job.bytes if job.has_ended else folder_bytes(job.folder)
            stored.append(StoredJob(job.id, job.ended_at if job.has_ended else None, size))
        deleted = []
        for job_id in jobs_to_delete(stored, self.retention, time.time() if now is None else now):
            with self.lock:
                job = self.jobs.get(job_id)
                if job is None or not job.has_ended:
                    continue
                del self.jobs[job_id]
            self._remove(job)
            deleted.append(job_id)
        if deleted:
            log.info("retention: deleted %d ended job(s)", len(deleted))
        return deleted
