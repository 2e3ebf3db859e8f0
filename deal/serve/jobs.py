"""Jobs: `deal detect` runs in folders under the server's data folder, run one at a time by a worker thread
that shares the server's one detector, and resumed after a crash.

A job's folder, ``<data>/jobs/<id>/``::

    inputs/      the uploaded images (safe names), absent for a job of server-side paths
    out/         the run folder: exactly what `deal detect --out out/` writes (records, maps, report)
    job.json     what to run (inputs, options), written last when the job is created
    state.json   how it ended (done or failed, the run's summary), written when it ends

A folder without job.json is an upload that never completed and is removed at start; a job without
state.json was queued or running when the server stopped and is queued again: run_detection skips the
inputs already done, so the outputs are byte-identical to an uninterrupted run (same detector, batch size,
device and thread count).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deal.fileio import atomic_write_bytes, write_json
from deal.inference.detector import Detector
from deal.modeling.constants import DEFAULT_BATCH_SIZE
from deal.runs.progress import Progress
from deal.serve.uploads import RequestRefused, check_inside

if TYPE_CHECKING:
    from deal.runs import RunSummary

log = logging.getLogger("deal.serve")

JOBS_DIR = "jobs"
JOB_FILE, STATE_FILE, INPUTS_DIR, OUT_DIR = "job.json", "state.json", "inputs", "out"
LOCK_FILE = "serve.lock"
RESULTS_FILE = "results.jsonl"  # deal detect's records, in input order (deal.runs.records)
MAX_ERRORS_SHOWN = 100
ID_LENGTH = 32  # hex characters: 128 random bits, unguessable


def is_job_id(text: str) -> bool:
    return len(text) == ID_LENGTH and all(c in "0123456789abcdef" for c in text)


class JobProgress(Progress):
    """A silent Progress that keeps the run's failure messages for the job's status."""

    def __init__(self, total: int) -> None:
        super().__init__(total, quiet=True)
        self.errors: list[str] = []

    def message(self, text: str) -> None:
        if text.startswith("error: ") and len(self.errors) < MAX_ERRORS_SHOWN:
            self.errors.append(text.removeprefix("error: "))
        log.info("%s", text)


@dataclass
class JobOptions:
    """A job's `deal detect` options: outputs, report and thresholds (None: the detector's)."""

    save: str = "heatmap,mask,overlay,json"
    report: str | None = "html"
    threshold: float | None = None
    image_thresholds: tuple[float, float] | None = None


@dataclass
class Job:
    id: str
    folder: Path
    inputs: list[str]
    options: JobOptions
    n_inputs: int
    created: float
    roots: list[str] = field(default_factory=list)  # server-side inputs stay inside these; [] for uploads
    state: str = "queued"  # queued, running, done, failed
    progress: JobProgress | None = None
    ended: dict[str, Any] = field(default_factory=dict)  # state.json once done or failed

    @property
    def out(self) -> Path:
        return self.folder / OUT_DIR


def run_job(
    job: Job,
    detector: Detector,
    *,
    batch_size: int,
    workers: int,
    engine: str,
    address: str | None,
    make_progress: Callable[[int], Progress] | None = None,
) -> RunSummary:
    """Runs one job: `deal detect` over its inputs into its run folder, with the shared model and the
    job's thresholds. Returns the run's RunSummary."""
    from deal.runs import run_detection

    options = job.options
    changes = {"threshold": options.threshold, "image_thresholds": options.image_thresholds}
    # The job's thresholds on the same model object (no copy of the weights); every other field kept.
    det = detector.replace(**{k: v for k, v in changes.items() if v is not None})
    ray_options = None
    if engine == "ray":
        from deal.runs.ray_engine import RayOptions

        ray_options = RayOptions(address=address)
    return run_detection(
        job.inputs,
        job.out,
        det,
        save=options.save,
        report=options.report,
        batch_size=batch_size,
        workers=0 if engine == "ray" else workers,
        quiet=True,
        engine=engine,
        ray_options=ray_options,
        make_progress=make_progress,
    )


def read_records(out: Path) -> list[dict[str, Any]]:
    """The run's records, exactly as `deal detect` wrote them to results.jsonl."""
    with open(out / RESULTS_FILE, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


class JobStore:
    """The jobs under ``<data>/jobs``, a queue of those to run and the worker thread that runs them."""

    def __init__(
        self,
        data: Path,
        detector: Detector,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        workers: int = 0,
        engine: str = "local",
        address: str | None = None,
        max_queued: int = 100,
    ) -> None:
        self.root = Path(data) / JOBS_DIR
        self.root.mkdir(parents=True, exist_ok=True)
        self._hold_data_lock()
        self.detector = detector
        self.batch_size, self.workers, self.engine, self.address = batch_size, workers, engine, address
        self.max_queued = max_queued
        self.jobs: dict[str, Job] = {}
        self.lock = threading.Lock()
        self.queue: queue.Queue[Job | None] = queue.Queue()
        self.thread: threading.Thread | None = None
        self.recover()

    # --- lifecycle ------------------------------------------------------------------------------
    def _hold_data_lock(self) -> None:
        """One server per data folder (an exclusive flock on <data>/serve.lock, held while this
        store lives): two would run the same jobs."""
        from deal.serve.settings import SettingsError

        self._lock_fd = os.open(self.root.parent / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            import fcntl
        except ImportError:  # no flock on this platform
            return
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._lock_fd)
            raise SettingsError(f"another deal serve is using the data folder {self.root.parent}") from None

    def close(self) -> None:
        """Releases the data folder (after stop())."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

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
                job = self._load(folder)
            except (OSError, ValueError, KeyError, TypeError) as err:
                log.warning("%s: skipped, unreadable job: %s", folder, err)
                continue
            self.jobs[job.id] = job
            if job.state == "queued":
                pending.append(job)
        for job in sorted(pending, key=lambda j: j.created):
            log.info("job %s: resumed", job.id)
            self.queue.put(job)

    def start(self) -> None:
        self.thread = threading.Thread(target=self._work, name="deal-serve-jobs", daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 1.0) -> None:
        """Stops taking jobs; a job that is running goes on in its daemon thread until the process ends,
        and if that cuts it short, it resumes at the next start."""
        self.queue.put(None)
        if self.thread is not None:
            self.thread.join(timeout)

    # --- jobs -----------------------------------------------------------------------------------
    def new_folder(self) -> tuple[str, Path]:
        job_id = secrets.token_hex(ID_LENGTH // 2)
        folder = self.root / job_id
        folder.mkdir()
        return job_id, folder

    def pending(self) -> int:
        with self.lock:
            return sum(j.state in ("queued", "running") for j in self.jobs.values())

    def submit(
        self,
        job_id: str,
        folder: Path,
        inputs: Sequence[str],
        options: JobOptions,
        n_inputs: int,
        roots: Sequence[str] = (),
    ) -> Job:
        """Writes job.json (the job exists from then on) and queues the job. roots: the allowed roots that
        server-side inputs must stay in (checked again when the job starts); empty for uploads."""
        job = Job(job_id, folder, list(inputs), options, n_inputs, created=time.time(), roots=list(roots))
        spec = {
            "id": job_id,
            "created": job.created,
            "inputs": job.inputs,
            "roots": job.roots,
            "n_inputs": n_inputs,
            "options": {
                "save": options.save,
                "report": options.report,
                "threshold": options.threshold,
                "image_thresholds": list(options.image_thresholds) if options.image_thresholds else None,
            },
        }
        write_json(folder / JOB_FILE, spec)
        with self.lock:
            self.jobs[job_id] = job
        self.queue.put(job)
        return job

    def get(self, job_id: str) -> Job | None:
        with self.lock:
            return self.jobs.get(job_id) if is_job_id(job_id) else None

    def _load(self, folder: Path) -> Job:
        spec = json.loads((folder / JOB_FILE).read_text(encoding="utf-8"))
        o = spec["options"]
        options = JobOptions(
            save=o["save"],
            report=o["report"],
            threshold=o["threshold"],
            image_thresholds=tuple(o["image_thresholds"]) if o["image_thresholds"] else None,
        )
        job = Job(
            folder.name,
            folder,
            list(spec["inputs"]),
            options,
            int(spec["n_inputs"]),
            spec["created"],
            roots=list(spec.get("roots") or []),
        )
        if (folder / STATE_FILE).is_file():
            job.ended = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
            job.state = job.ended["state"]
        return job

    def _work(self) -> None:
        while True:
            job = self.queue.get()
            if job is None:
                return
            try:
                self._run(job)
            except Exception:  # e.g. state.json not writable: on disk the job is unfinished, and the next
                log.exception("job %s: could not be recorded", job.id)  # start runs it again
                with self.lock:
                    job.ended = {
                        "state": "failed",
                        "error": "the job's state could not be written; see the server's log",
                    }
                    job.state = "failed"

    def _run(self, job: Job) -> None:
        from deal.runs import NoInputsError, RunLockedError
        from deal.runs.ray_engine import RayClusterError, RayUnavailableError

        def make_progress(total: int) -> JobProgress:
            job.progress = JobProgress(total)
            return job.progress

        with self.lock:
            job.state = "running"
        log.info("job %s: running %d inputs", job.id, job.n_inputs)
        try:
            if job.roots:  # the files may have changed since the job was created: check them again
                check_inside(job.inputs, job.roots)
            summary = run_job(
                job,
                self.detector,
                batch_size=self.batch_size,
                workers=self.workers,
                engine=self.engine,
                address=self.address,
                make_progress=make_progress,
            )
            ended: dict[str, Any] = {
                "state": "done",
                "n_inputs": summary.n_inputs,
                "n_processed": summary.n_processed,
                "n_skipped": summary.n_skipped,
                "n_failed": summary.n_failed,
                "verdicts": summary.verdicts,
                "seconds": round(summary.seconds, 4),
                "images_per_second": summary.images_per_second,
                "report": summary.report is not None,
                "error": None,
                # The failures of this run (a resumed run retries earlier failures, so none are missed).
                "errors": list(job.progress.errors) if job.progress is not None else [],
            }
        except RequestRefused as err:
            ended = {"state": "failed", "error": err.message}
        except (NoInputsError, RunLockedError, RayClusterError, RayUnavailableError, ValueError) as err:
            ended = {"state": "failed", "error": str(err)}
        except Exception as err:  # logged in full here; the client gets one sentence
            log.exception("job %s failed", job.id)
            ended = {
                "state": "failed",
                "error": f"the job failed ({type(err).__name__}); see the server's log",
            }
        atomic_write_bytes(job.folder / STATE_FILE, (json.dumps(ended, indent=2) + "\n").encode())
        with self.lock:
            job.ended, job.state = ended, ended["state"]
        log.info("job %s: %s", job.id, job.state)

    # --- what clients see -----------------------------------------------------------------------
    def status(self, job: Job) -> dict[str, Any]:
        """State, progress (inputs done of total, images/s) and the errors so far."""
        with self.lock:
            state, ended, progress = job.state, dict(job.ended), job.progress
        if ended.get("state") == "done":
            done, total = ended["n_inputs"], ended["n_inputs"]
            speed = ended["images_per_second"]
            counts = {k: ended[k] for k in ("n_processed", "n_skipped", "n_failed")}
            errors = list(ended.get("errors") or [])
        elif progress is not None:
            done, total, speed = progress.done, progress.total, progress.images_per_second
            counts = {
                "n_processed": progress.processed,
                "n_skipped": progress.skipped,
                "n_failed": progress.failed,
            }
            errors = list(progress.errors)
        else:
            done, total, speed, counts, errors = 0, job.n_inputs, 0.0, {}, []
        if state == "failed" and ended.get("error"):
            errors = [ended["error"], *errors]
        return {
            "id": job.id,
            "state": state,
            "created": job.created,
            "progress": {"done": done, "total": total, "images_per_second": speed, **counts},
            "verdicts": ended.get("verdicts"),
            "errors": errors,
            "options": {
                "save": job.options.save,
                "report": job.options.report,
                "threshold": job.options.threshold,
                "image_thresholds": job.options.image_thresholds,
            },
        }
