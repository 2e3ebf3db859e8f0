"""JobWorker: the thread of `deal serve` that runs the queued jobs one at a time, as `deal detect` runs, with
the server's one detector; after each job it applies the store's retention."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from deal.inference.detector import Detector
from deal.runs.progress import Progress
from deal.serve.errors import RequestRefused
from deal.serve.job import Job, JobProgress
from deal.serve.store import JobStore
from deal.serve.uploads import check_inside

if TYPE_CHECKING:
    from deal.runs import RunSummary

log = logging.getLogger("deal.serve")


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
        views=options.views,
    )


def summary_of(summary: RunSummary, progress: JobProgress | None) -> dict[str, Any]:
    """state.json of a job that ran to its end."""
    return {
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
        "errors": list(progress.errors) if progress is not None else [],
    }


class JobWorker:
    """Runs the jobs of `store`'s queue with `detector` (batch_size, workers, engine and address as in
    `deal detect`), in one daemon thread."""

    def __init__(
        self,
        store: JobStore,
        detector: Detector,
        *,
        batch_size: int,
        workers: int,
        engine: str = "local",
        address: str | None = None,
    ) -> None:
        self.store, self.detector = store, detector
        self.batch_size, self.workers, self.engine, self.address = batch_size, workers, engine, address
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._work, name="deal-serve-jobs", daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 1.0) -> None:
        """Stops taking jobs; a job that is running goes on in its daemon thread until the process ends,
        and if that cuts it short, it resumes at the next start."""
        self.store.queue.put(None)
        if self.thread is not None:
            self.thread.join(timeout)

    def _work(self) -> None:
        while True:
            job = self.store.queue.get()
            if job is None:
                return
            if not self.store.start_running(job):
                continue  # deleted while it waited
            try:
                self.run(job)
            except Exception:  # e.g. state.json not writable: on disk the job is unfinished, and the next
                log.exception("job %s: could not be recorded", job.id)  # start runs it again
                with self.store.lock:
                    job.ended = {
                        "state": "failed",
                        "error": "the job's state could not be written; see the server's log",
                    }
                    job.state = "failed"
            try:
                self.store.apply_retention()
            except Exception:
                log.exception("retention failed")

    def run(self, job: Job) -> None:
        """Runs `job` (marked running) to its end and writes how it ended (state.json)."""
        ended = self._outcome(job)
        ended["ended_at"] = time.time()
        with self.store.lock:
            job.write_ended(ended)
        log.info("job %s: %s", job.id, job.state)

    def _outcome(self, job: Job) -> dict[str, Any]:
        from deal.runs import NoInputsError, RunLockedError
        from deal.runs.ray_engine import RayClusterError, RayUnavailableError

        def make_progress(total: int) -> JobProgress:
            job.progress = JobProgress(total)
            return job.progress

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
            return summary_of(summary, job.progress)
        except RequestRefused as err:
            return {"state": "failed", "error": err.message}
        except (NoInputsError, RunLockedError, RayClusterError, RayUnavailableError, ValueError) as err:
            return {"state": "failed", "error": str(err)}
        except Exception as err:  # logged in full here; the client gets one sentence
            log.exception("job %s failed", job.id)
            return {"state": "failed", "error": f"the job failed ({type(err).__name__}); see the server's log"}
