"""The Ray engine of run_detection: the same run on a pool of Ray actors, on one machine or a cluster.

The driver (run_detection) discovers the inputs, skips those an earlier run completed and cuts the rest
into the same windows of `batch_size` inputs as the local engine (deal.runs.run.input_windows). Each window
goes, through a ray.util.ActorPool, to an actor that holds one copy of the Detector and runs the local
engine's own window code on it (deal.runs.run.process_windows): decode, analyse, write the outputs and the
record with the atomic writers into the output folder. The driver keeps the failures and assembles
results.jsonl / results.csv / the report in input order from the records, as the local engine does. An
image's batch depends only on its window, so the outputs are byte-identical to a local run's on the same
device kind, batch size and torch thread count (an actor uses one thread per CPU it holds).

Faults: an actor whose process dies is restarted (max_restarts=-1) and the window it was working on is
redone once (max_task_retries=1); a window whose actor dies twice is recorded as failed, input by input
(the next run retries it). A new actor process showing up means one died: the temporary files it may
have left are removed once the pool is idle. A killed driver leaves the output folder as a killed local
run does: either engine resumes it.

Inputs and the output folder must be on a filesystem that every node mounts under the same path.
"""

from __future__ import annotations

import itertools
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deal.runs.lock import remove_stray_parts
from deal.runs.run import Run, process_windows
from deal.version import __version__

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from deal.inference.streaming import WorkItem
    from deal.runs.discovery import InputFile
    from deal.runs.progress import Progress

INSTALL_HINT = 'the Ray engine needs Ray: pip install "deal-forensics[ray]" (or pip install "ray>=2.9")'


class RayUnavailableError(RuntimeError):
    """engine="ray" was asked for, and Ray is not installed."""


class RayClusterError(RuntimeError):
    """The Ray cluster cannot be reached, or its workers cannot start."""


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide the Ray engine runs.

    Args:
        address: None: the Ray instance this process already initialized, else a new local one; "auto":
            the cluster this node belongs to (`ray start`); "HOST:PORT" of a cluster's head; or
            "ray://HOST:10001" (Ray Client).
        workers: actors, each holding one Detector; None: the cluster's GPUs / gpus_per_worker, or its
            CPUs / cpus_per_worker (at least 1).
        gpus_per_worker: GPUs each actor holds (the detector then runs on CUDA); None: 1 if the detector
            is on CUDA, else 0.
        cpus_per_worker: CPUs each actor holds, and its torch threads (at least 1).
    """

    address: str | None = None
    workers: int | None = None
    gpus_per_worker: float | None = None
    cpus_per_worker: float = 1.0

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.gpus_per_worker is not None and self.gpus_per_worker < 0:
            raise ValueError(f"gpus_per_worker must be >= 0, got {self.gpus_per_worker}")
        if self.cpus_per_worker <= 0:
            raise ValueError(f"cpus_per_worker must be > 0, got {self.cpus_per_worker}")


def require_ray() -> Any:
    """The ray module; RayUnavailableError (one sentence on how to install it) when it is missing."""
    try:
        import ray
    except ImportError as err:
        raise RayUnavailableError(INSTALL_HINT) from err
    return ray


class DetectWorker:
    """A Ray actor: one Detector, and the local engine's window code writing into the output folder.

    The detector reaches it as an object reference wrapped in a list, with every call, and is fetched
    once: so a restarted actor fetches it again, and its constructor holds no object-store argument.
    """

    def __init__(
        self,
        device: str,
        out_dir: Path,
        root: Path,
        kinds: tuple[str, ...],
        report: str | None,
        *,
        views: tuple[str, ...] = (),
        cwd: str,
        threads: int,
        batch_size: int,
        decoders: int,
        writers: int,
    ) -> None:
        import warnings

        import torch
        from PIL import Image

        # As in `deal detect`: oversized images are refused with a clear message, Pillow's warning would
        # only repeat it (on the driver's stderr, where Ray forwards the actors' output).
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        if os.path.isdir(cwd):  # relative inputs and output folder, as the driver sees them
            os.chdir(cwd)
        torch.set_num_threads(threads)
        self.device, self.settings = device, (root, out_dir, kinds, report, views)
        self.batch_size, self.decoders, self.writers = batch_size, decoders, writers
        self.run: Run | None = None

    def _setup(self, detector_ref: list[Any]) -> Run:
        if self.run is None:
            import ray

            detector = ray.get(detector_ref[0]).replace(device=self.device)
            root, out_dir, kinds, report, views = self.settings
            self.run = Run({}, root, out_dir, detector, kinds, report, overwrite=True, views=views)
        return self.run

    def ready(self, detector_ref: list[Any]) -> tuple[str, int]:
        """Loads the detector; (deal's version in this actor, which the driver checks, its process id)."""
        self._setup(detector_ref)
        return __version__, os.getpid()

    def process(
        self, window: list[WorkItem], items: Mapping[int, InputFile], detector_ref: list[Any]
    ) -> tuple[int, list[tuple[int, dict[str, Any]]], int]:
        """One window -> (its first index, [(index, record)] for its wanted inputs in order, process id)."""
        run = self._setup(detector_ref)
        records: list[tuple[int, dict[str, Any]]] = []
        try:
            process_windows(
                run,
                items,
                [window],
                lambda index, record: records.append((index, record)),
                batch_size=self.batch_size,
                workers=self.decoders,
                writers=self.writers,
            )
        except Exception as err:  # a bug, not a bad input: fail this window's inputs, keep the actor
            done = {index for index, _ in records}
            records += [
                (
                    w.index,
                    run.base_record(
                        items[w.index],
                        error=f"{items[w.index].path}: failed in a Ray worker: {type(err).__name__}: {err}",
                    ),
                )
                for w in window
                if w.wanted and w.index not in done
            ]
        return window[0].index, records, os.getpid()


def _connect(ray: Any, address: str | None) -> bool:
    """Initializes Ray unless this process already has; True if it started it (and must shut it down)."""
    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"logging_level": logging.ERROR}
    if address is None:  # a new local instance: no dashboard, nothing to reach from outside
        kwargs["include_dashboard"] = False
    try:
        ray.init(address=address, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as err:
        raise RayClusterError(f"cannot connect to the Ray cluster at {address}: {err}") from err
    return True


def _actor_count(ray: Any, options: RayOptions, gpus: float) -> int:
    resources = ray.cluster_resources()
    if gpus > resources.get("GPU", 0):  # the actors would wait for ever
        raise RayClusterError(
            f"the Ray cluster has {resources.get('GPU', 0):g} GPUs and each worker needs {gpus:g} "
            "(--gpus-per-worker)"
        )
    if options.workers is not None:
        return options.workers
    if gpus > 0:
        return max(1, int(resources.get("GPU", 0) // gpus))
    return max(1, int(resources.get("CPU", 1) // options.cpus_per_worker))


class RayEngine:
    """Runs a run's windows on a pool of Ray actors (module docstring): the driver side of run_detection.

    Args:
        options: the cluster and the actors (None: RayOptions()).

    Raises:
        RayUnavailableError: Ray is not installed (when the engine is made, before any work).
    """

    def __init__(self, options: RayOptions | None = None) -> None:
        require_ray()
        self.options = options or RayOptions()

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
        """run: the run (its records, failures and results live on the driver); progress: advanced as the
        actors report their windows; windows: the run's windows (deal.runs.run.input_windows); batch_size:
        as in run_detection; workers, writers: each actor's decoding and writing threads."""
        _execute_on_ray(
            run, progress, windows, self.options, batch_size=batch_size, workers=workers, writers=writers
        )


def _execute_on_ray(
    run: Run,
    progress: Progress,
    windows: Iterable[list[WorkItem]],
    options: RayOptions,
    *,
    batch_size: int,
    workers: int,
    writers: int,
) -> None:
    """Starts the actors (and Ray, unless this process has), sends them the windows that hold wanted
    inputs, fails the inputs of windows whose actor died twice, and stops the actors (and Ray) at the end."""
    ray = require_ray()
    todo = (window for window in windows if any(w.wanted for w in window))
    first = next(todo, None)
    if first is None:  # everything done already (or failed while listing): no cluster needed
        run.done_upto = len(run.items)
        return
    started = _connect(ray, options.address)
    actors: list[Any] = []
    try:
        device, gpus = _actor_device(run.det.device.type, options.gpus_per_worker)
        n_actors = _actor_count(ray, options, gpus)
        detector_ref = ray.put(run.det.replace(device="cpu"))  # shipped on the CPU, moved by each actor
        actor_class = ray.remote(DetectWorker).options(
            num_cpus=options.cpus_per_worker, num_gpus=gpus, max_restarts=-1, max_task_retries=1
        )
        actors += [  # stopped when the run ends, whatever happens
            actor_class.remote(
                device,
                run.out,
                run.root,
                run.kinds,
                run.report,
                views=run.views,
                cwd=os.getcwd(),
                threads=max(1, int(options.cpus_per_worker)),
                batch_size=batch_size,
                decoders=workers,
                writers=writers,
            )
            for _ in range(n_actors)
        ]
        pids = _start_actors(ray, actors, detector_ref)
        outstanding = _dispatch(ray, run, progress, actors, detector_ref, itertools.chain([first], todo), pids)
        if outstanding or len(pids) > len(actors):  # an actor died: it may have left temporary files
            remove_stray_parts(run.out)  # (the actors are idle now)
        _fail_outstanding(run, progress, outstanding)
        run.done_upto = len(run.items)
    finally:
        for actor in actors:
            ray.kill(actor, no_restart=True)
        if started:
            ray.shutdown()


def _actor_device(detector_device: str, gpus_per_worker: float | None) -> tuple[str, float]:
    """(the device an actor runs the detector on, the GPUs it holds). gpus_per_worker None: 1 GPU if the
    detector is on CUDA, else none; an actor without a GPU runs a CUDA detector on the CPU."""
    gpus = gpus_per_worker if gpus_per_worker is not None else (1.0 if detector_device == "cuda" else 0.0)
    device = "cuda" if gpus > 0 else ("cpu" if detector_device == "cuda" else detector_device)
    return device, gpus


def _start_actors(ray: Any, actors: list[Any], detector_ref: Any) -> set[int]:
    """Loads the detector in every actor; their process ids. RayClusterError when they cannot start or
    run another version of deal than this process."""
    from ray.exceptions import RayError

    try:
        started_up = ray.get([a.ready.remote([detector_ref]) for a in actors])
    except RayError as err:
        raise RayClusterError(f"the Ray workers cannot start: {err}") from err
    versions = {version for version, _ in started_up}
    if versions != {__version__}:
        raise RayClusterError(
            f"the Ray workers run deal {', '.join(sorted(versions))}, this process deal "
            f"{__version__}: install the same version on every node"
        )
    return {pid for _, pid in started_up}


def _dispatch(
    ray: Any,
    run: Run,
    progress: Progress,
    actors: list[Any],
    detector_ref: Any,
    windows: Iterable[list[WorkItem]],
    pids: set[int],
) -> dict[int, list[WorkItem]]:
    """Sends the windows through a pool of `actors`, keeping one running and one waiting on each, and
    notes each returned record on the run (and rewrites the interim results). Adds the process id of every
    answer to `pids` (a new one: an actor was restarted). Returns the windows that never came back
    (their actor died twice), by first index."""
    from ray.exceptions import RayError
    from ray.util import ActorPool

    pool = ActorPool(actors)
    outstanding: dict[int, list[WorkItem]] = {}  # first index -> a window sent and not yet returned
    next_start, in_pool = 0, 0

    def collect() -> None:
        nonlocal in_pool
        in_pool -= 1
        try:
            start, records, pid = pool.get_next_unordered()
        except RayError:  # its actor died twice: the window stays outstanding, failed at the end
            return
        pids.add(pid)
        del outstanding[start]
        for index, record in records:
            run.note(index, record, progress)
        run.done_upto = min(outstanding, default=next_start)
        run.interim_results(upto=run.done_upto)

    for window in windows:
        items = {w.index: run.items[w.index] for w in window}
        outstanding[window[0].index] = window
        next_start = window[-1].index + 1
        pool.submit(lambda actor, job: actor.process.remote(*job, [detector_ref]), (window, items))
        in_pool += 1
        while in_pool >= 2 * len(actors):  # one window running on each actor, one waiting for it
            collect()
    while pool.has_next():
        collect()
    return outstanding


def _fail_outstanding(run: Run, progress: Progress, outstanding: dict[int, list[WorkItem]]) -> None:
    """Records the wanted inputs of windows whose actor died twice as failed (the next run retries them)."""
    for window in outstanding.values():
        for w in window:
            if w.wanted:
                item = run.items[w.index]
                record = run.fail(w.index, item, f"{item.path}: its Ray worker died twice while processing it")
                progress.message(f"error: {record['error']}")
                progress.advance(failed=1)
