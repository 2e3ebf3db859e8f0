"""run_detection: a Detector over files, folders and globs, to an output folder that survives being killed.

Per input, the outputs (deal.inference.outputs) are written atomically and the record LAST: the
``<name>.json`` sidecar (or, without "json" in `save`, ``.deal/records/<rel>.json``). A record whose
detector, threshold, tiling, input size and requested outputs match this run means the input is done,
and a rerun skips it (unless overwrite). Inputs that failed are retried by every run. Stray temporary
files of a killed run are removed at start. Because batches are fixed windows of inputs
(deal.inference.streaming), a resumed run writes byte-identical outputs to an uninterrupted one on the
same device, and the same results.jsonl but for `seconds`.

results.jsonl and results.csv (one row per input, in input order) are rewritten atomically at the end,
and during long runs every few minutes with the inputs done so far.

Two engines share the listing and resumption (input_windows) and the per-window work (process_windows:
decode, analyse, write outputs and record): "local" runs it here, "ray" on a pool of Ray actors
(deal.inference.ray_engine).
"""

from __future__ import annotations

import os
import re
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deal.fileio import atomic_write_bytes, atomic_write_text
from deal.inference.detector import Detector
from deal.inference.discovery import STATE_DIR, InputFile, find_inputs, read_input_list
from deal.inference.outputs import (
    DEFAULT_SAVE,
    heatmap_png,
    mask_png,
    npz_bytes,
    output_name,
    overlay_jpg,
    parse_save,
    thumbnail_jpg,
)
from deal.inference.progress import Progress
from deal.inference.records import is_complete, make_record, read_record, record_json, write_results
from deal.inference.streaming import DEFAULT_BATCH_SIZE, Outcome, WorkItem, stream_outcomes
from deal.metrics.image_score import VERDICTS

if TYPE_CHECKING:
    from deal.inference.ray_engine import RayOptions

REPORT_KINDS = ("html",)
ENGINES = ("local", "ray")
# Temporary files of deal.fileio.atomic_path: "." + name + "." + 8 random characters + ".part".
_PART_FILE = re.compile(r"^\..+\.[a-z0-9_]{8}\.part$")
_MIN_RESULTS_INTERVAL = 120.0  # seconds between interim rewrites of results.jsonl (at least)


class RunLockedError(RuntimeError):
    """Another run is writing to the same output folder."""


@dataclass
class RunSummary:
    """What a run did. exit_code: 0 every input done, 1 some failed."""

    n_inputs: int
    n_processed: int
    n_skipped: int
    n_failed: int
    verdicts: dict[str, int]  # how many inputs got each verdict ("edited", "inconclusive", "authentic")
    seconds: float
    out_dir: Path
    results_jsonl: Path
    results_csv: Path
    report: Path | None = None

    @property
    def images_per_second(self) -> float:
        """Images inferred in this run per second of wall time (skipped ones not counted)."""
        return self.n_processed / self.seconds if self.seconds > 0 else 0.0

    @property
    def n_edited(self) -> int:
        return self.verdicts.get("edited", 0)

    @property
    def exit_code(self) -> int:
        return 1 if self.n_failed else 0

    def text(self) -> str:
        skipped = f" ({self.n_skipped} already done)" if self.n_skipped else ""
        where = f"{self.results_jsonl}, {self.results_csv}" + (f", {self.report}" if self.report else "")
        return (
            f"{self.n_inputs} images{skipped}: "
            + "".join(f"{self.verdicts.get(v, 0)} {v}, " for v in VERDICTS)
            + f"{self.n_failed} failed; "
            f"{self.images_per_second:.2f} images/s; results in {where}"
        )


def remove_stray_parts(out_dir: Path) -> int:
    """Deletes temporary files left by a killed run under `out_dir`. Returns how many."""
    n = 0
    for top, _, files in os.walk(out_dir):
        for name in files:
            if _PART_FILE.match(name):
                Path(top, name).unlink(missing_ok=True)
                n += 1
    return n


class _Lock:
    """An exclusive lock on <out>/.deal/lock (POSIX flock; a no-op where fcntl is missing)."""

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / STATE_DIR / "lock"
        self.fd: int | None = None

    def __enter__(self) -> _Lock:
        try:
            import fcntl
        except ImportError:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(self.fd)
            self.fd = None
            raise RunLockedError(f"another deal detect run is writing to {self.path.parent.parent}") from err
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing releases the flock
            self.fd = None


class _Run:
    """The state of one run_detection call (paths, settings, failures of this run)."""

    def __init__(
        self,
        items: Sequence[InputFile] | Mapping[int, InputFile],
        root: Path,
        out_dir: Path,
        detector: Detector,
        kinds: tuple[str, ...],
        report: str | None,
        overwrite: bool,
    ) -> None:
        from deal.version import __version__

        self.items, self.root, self.out, self.det = items, root, out_dir, detector
        self.kinds, self.report, self.overwrite = kinds, report, overwrite
        self.version = __version__
        self.failures: dict[int, dict[str, Any]] = {}
        self.done_upto = 0  # inputs [0, done_upto) have a record (on disk or in failures)
        self.last_results, self.results_interval = time.perf_counter(), _MIN_RESULTS_INTERVAL
        self.settings = {
            "detector": {"name": detector.name, "sha256": detector.sha256},
            "threshold": detector.threshold,
            "image_threshold_low": detector.image_thresholds[0],
            "image_threshold_high": detector.image_thresholds[1],
            "tile": detector.tile,
        }

    # --- paths ----------------------------------------------------------------------------------
    def rel_output(self, item: InputFile, kind: str) -> str:
        return output_name(item.rel, kind)

    def record_path(self, item: InputFile) -> Path:
        if "json" in self.kinds:
            return self.out / output_name(item.rel, "json")
        return self.out / STATE_DIR / "records" / (item.rel + ".json")

    def thumb_path(self, item: InputFile) -> Path:
        return self.out / STATE_DIR / "thumbs" / (item.rel + ".jpg")

    # --- records --------------------------------------------------------------------------------
    def base_record(self, item: InputFile, **values: Any) -> dict[str, Any]:
        return make_record(
            path=str(item.path),
            tile=self.det.tile,
            threshold=self.det.threshold,
            image_threshold_low=self.det.image_thresholds[0],
            image_threshold_high=self.det.image_thresholds[1],
            detector={"name": self.det.name, "sha256": self.det.sha256},
            device=f"{self.det.device.type} {self.det.precision}",
            deal_version=self.version,
            **values,
        )

    def fail(
        self, index: int, item: InputFile, error: str, seconds: float = 0.0, **values: Any
    ) -> dict[str, Any]:
        record = self.base_record(item, error=error, seconds=round(seconds, 4), **values)
        self.failures[index] = record
        return record

    def error_record(self, outcome: Outcome, item: InputFile) -> dict[str, Any]:
        """The record of an input that could not be read or analysed."""
        assert outcome.error is not None
        return self.base_record(
            item,
            error=outcome.error,
            seconds=round(outcome.seconds, 4),
            sha256=outcome.loaded.sha256 if outcome.loaded else None,
            bytes=outcome.loaded.nbytes if outcome.loaded else None,
        )

    def note(self, index: int, record: dict[str, Any], progress: Progress) -> None:
        """Counts one input's record in the progress (and keeps it if it is a failure)."""
        if record.get("error") is not None:
            self.failures[index] = record
            progress.message(f"error: {record['error']}")
            progress.advance(failed=1)
        else:
            progress.advance(processed=1)

    def interim_results(self, upto: int) -> None:
        """Rewrites results.jsonl/csv for inputs [0, upto) if the last rewrite is old enough."""
        if time.perf_counter() - self.last_results > self.results_interval:
            t0 = time.perf_counter()
            self.write_results(upto=upto)
            self.last_results = time.perf_counter()
            self.results_interval = max(_MIN_RESULTS_INTERVAL, 10 * (self.last_results - t0))

    def done_already(self, item: InputFile) -> bool:
        if self.overwrite or self.det.sha256 is None:  # an in-memory model has no identity to match
            return False
        try:
            size = item.path.stat().st_size
        except OSError:
            return False
        extra = [self.thumb_path(item)] if self.report else []
        kinds = [k for k in self.kinds if k != "json"]
        return is_complete(
            read_record(self.record_path(item)),
            self.out,
            expected=self.settings,
            kinds=kinds,
            extra_files=extra,
            input_size=size,
        )

    def record_of(self, index: int) -> dict[str, Any]:
        if index in self.failures:
            return self.failures[index]
        item = self.items[index]
        record = read_record(self.record_path(item))
        if record is None:
            return self.base_record(
                item, error=f"{item.path}: its record {self.record_path(item)} is missing"
            )
        return record

    # --- writing one image's outputs (in a writer thread) ---------------------------------------
    def write_outputs(self, outcome: Outcome, item: InputFile) -> dict[str, Any]:
        t0 = time.perf_counter()
        d, loaded = outcome.detection, outcome.loaded
        assert d is not None and loaded is not None
        record_path = self.record_path(item)
        try:
            record_path.unlink(missing_ok=True)  # absent while the outputs change: never a stale "done"
            outputs = {}
            encoders = {
                "heatmap": lambda: heatmap_png(d.heatmap),
                "mask": lambda: mask_png(d.mask),
                "overlay": lambda: overlay_jpg(loaded.array, d.heatmap, d.mask),
                "npz": lambda: npz_bytes(d.heatmap, d.score),
            }
            for kind in self.kinds:
                if kind in encoders:
                    rel = self.rel_output(item, kind)
                    atomic_write_bytes(self.out / rel, encoders[kind]())
                    outputs[kind] = rel
            if self.report:
                atomic_write_bytes(self.thumb_path(item), thumbnail_jpg(loaded.array, d.heatmap))
            if "json" in self.kinds:
                outputs["json"] = self.rel_output(item, "json")
            record = self.base_record(
                item,
                sha256=loaded.sha256,
                bytes=loaded.nbytes,
                width=d.width,
                height=d.height,
                score=round(d.score, 6),
                verdict=d.verdict,
                edited_fraction=round(d.edited_fraction, 6),
                n_regions=d.n_regions,
                regions=d.regions,
                inference=outcome.inference,
                outputs=outputs,
                seconds=round(outcome.seconds + time.perf_counter() - t0, 4),
                notes=list(d.notes),
            )
            atomic_write_text(record_path, record_json(record))
            return record
        except Exception as err:  # e.g. disk full: this input fails, the run goes on
            return self.base_record(
                item,
                error=f"{item.path}: cannot write outputs: {type(err).__name__}: {err}",
                seconds=round(outcome.seconds + time.perf_counter() - t0, 4),
            )

    # --- results --------------------------------------------------------------------------------
    def write_results(self, upto: int | None = None) -> tuple[int, dict[str, int]]:
        """Rewrites results.jsonl/csv for inputs [0, upto) from the records.
        Returns (n failed, how many records have each verdict)."""
        n = len(self.items) if upto is None else upto
        failed = [0]
        verdicts = dict.fromkeys(VERDICTS, 0)

        def records() -> Iterator[dict[str, Any]]:
            for i in range(n):
                record = self.record_of(i)
                failed[0] += record.get("error") is not None
                if record.get("verdict") in verdicts:
                    verdicts[record["verdict"]] += 1
                yield record

        write_results(records(), self.out / "results.jsonl", self.out / "results.csv")
        return failed[0], verdicts

    def write_report(self, inputs: Sequence[str | os.PathLike]) -> Path:
        from deal.inference.report_html import BUNDLED_KEY, LIMITATION_KEY, is_bundled_detector, write_report
        from deal.metrics.image_score import detector_verdict_limitation

        det = self.det
        settings = {
            "inputs": " ".join(map(os.fspath, inputs)),
            "detector": det.name,
            "detector sha256": det.sha256 or "(in memory)",
            BUNDLED_KEY: is_bundled_detector(det.sha256),
            "model": f"{det.config.encoder}, {det.config.input_policy} policy, image size {det.config.image_size}",
            "threshold": det.threshold,
            "verdict thresholds (image score: low, high)": ", ".join(f"{t:g}" for t in det.image_thresholds),
            LIMITATION_KEY: detector_verdict_limitation(det.image_thresholds, det.info.extra) or "none",
            "tiling": f"on (tiles of {det.config.image_size} px, overlap {det.overlap} px)"
            if det.tile
            else "off",
            "device": f"{det.device.type} ({det.precision})",
            "saved": ", ".join(self.kinds) or "(records only)",
            "deal version": self.version,
        }
        entries = ((i, self.record_of(i), self.thumb_path(self.items[i])) for i in range(len(self.items)))
        return write_report(self.out / "report.html", entries, settings=settings)


def run_detection(
    inputs: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    detector: Detector,
    *,
    save: str | Collection[str] = DEFAULT_SAVE,
    report: str | None = None,
    overwrite: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int = 0,
    quiet: bool = False,
    writers: int = 2,
    inputs_from: str | os.PathLike | None = None,
    engine: str = "local",
    ray_options: RayOptions | None = None,
) -> RunSummary:
    """Runs `detector` over files, folders and glob patterns; writes outputs under `out_dir`.

    Args:
        inputs: files, folders (recursive) and globs (see deal.inference.discovery).
        out_dir: the output folder (mirrors the input tree; created if needed).
        detector: a Detector (its threshold and tiling apply).
        save: output kinds, a subset of heatmap, mask, overlay, npz, json ("heatmap,mask" or a list).
        report: "html" for out_dir/report.html, or None.
        overwrite: recompute inputs already done by an earlier run.
        batch_size: images per batch (also the window of consecutive inputs a batch is drawn from).
        workers: decoding threads (0: decode in this thread).
        quiet: no progress bar or log lines (failures are still printed on stderr).
        writers: threads encoding and writing outputs.
        inputs_from: a text file (one input a line) or CSV file (a "path" column, else the first) of more
            inputs, appended to `inputs` (deal.inference.discovery.read_input_list).
        engine: "local" (this process) or "ray" (a pool of Ray actors, each holding a copy of `detector`,
            on a local or existing Ray cluster: deal.inference.ray_engine; `workers` and `writers` are then
            each actor's decoding and writing threads). Same outputs, records and resumption.
        ray_options: the Ray engine's settings (cluster address, actors, GPUs per actor); None: the defaults.

    Returns:
        RunSummary (exit_code 1 if some input failed).

    Raises:
        NoInputsError: nothing matched. ValueError: a bad `save` / `report` / `engine` value.
        RunLockedError. deal.inference.ray_engine.RayUnavailableError: engine="ray" without Ray installed.
    """
    kinds = parse_save(save)
    if report is not None and report not in REPORT_KINDS:
        raise ValueError(f"unknown report kind {report!r}; choose from {list(REPORT_KINDS)}")
    if batch_size < 1 or workers < 0 or writers < 1:
        raise ValueError(
            f"need batch_size >= 1, workers >= 0, writers >= 1 (got {batch_size}, {workers}, {writers})"
        )
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose from {list(ENGINES)}")
    if engine == "ray":
        from deal.inference.ray_engine import RayOptions, require_ray

        require_ray()
        ray_options = ray_options or RayOptions()
    out = Path(out_dir)
    listed = read_input_list(inputs_from) if inputs_from is not None else []
    items, root, warnings = find_inputs([*inputs, *listed], out_dir=out)
    progress = Progress(len(items), quiet=quiet)
    for w in warnings:
        progress.message(f"warning: {w}")
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    with _Lock(out):
        remove_stray_parts(out)
        run = _Run(items, root, out, detector, kinds, report, overwrite)
        try:
            if engine == "ray":
                from deal.inference.ray_engine import execute_on_ray

                execute_on_ray(
                    run,
                    progress,
                    input_windows(run, progress, batch_size),
                    ray_options,
                    batch_size=batch_size,
                    workers=workers,
                    writers=writers,
                )
            else:
                _execute(run, progress, batch_size=batch_size, workers=workers, writers=writers)
        except BaseException:  # Ctrl-C or a crash: keep the results of the inputs done so far
            progress.close()
            if run.done_upto:
                run.write_results(upto=run.done_upto)
            raise
        progress.close()
        n_failed, verdicts = run.write_results()
        shown = [*inputs, *(["--inputs-from", inputs_from] if inputs_from is not None else [])]
        report_path = run.write_report(shown) if report == "html" else None
    summary = RunSummary(
        n_inputs=len(items),
        n_processed=progress.processed,
        n_skipped=progress.skipped,
        n_failed=n_failed,
        verdicts=verdicts,
        seconds=time.perf_counter() - t_start,
        out_dir=out,
        results_jsonl=out / "results.jsonl",
        results_csv=out / "results.csv",
        report=report_path,
    )
    if not quiet:
        progress.message(f"deal detect: {summary.text()}")
    return summary


def input_windows(run: _Run, progress: Progress, batch_size: int) -> Iterator[list[WorkItem]]:
    """The run's windows of `batch_size` consecutive inputs, by position (deal.inference.streaming).

    Inputs found unreadable while listing are recorded as failed, and inputs an earlier run completed are
    counted as skipped: both engines draw their work from here, so they resume the same way.
    """
    items = run.items
    for start in range(0, len(items), batch_size):
        window = []
        for index in range(start, min(start + batch_size, len(items))):
            item = items[index]
            if item.problem is not None:
                record = run.fail(index, item, f"{item.path}: {item.problem}")
                progress.message(f"error: {record['error']}")
                progress.advance(failed=1)
                continue
            wanted = not run.done_already(item)
            if not wanted:
                progress.advance(skipped=1)
            window.append(WorkItem(index, item.path, wanted))
        yield window


def process_windows(
    run: _Run,
    windows: Iterable[list[WorkItem]],
    on_record: Callable[[int, dict[str, Any]], None],
    *,
    batch_size: int,
    workers: int,
    writers: int,
) -> None:
    """Decodes and analyses windows of inputs and writes each wanted input's outputs and record.

    The work of both engines: the local one runs it over all the windows of a run, each Ray worker over
    the windows sent to it. Calls on_record(index, record) once per wanted input, in input order.
    """
    pending: deque[tuple[int, Future]] = deque()
    max_pending = 2 * batch_size

    def reap(all_: bool = False) -> None:
        while pending and (all_ or pending[0][1].done() or len(pending) > max_pending):
            index, future = pending.popleft()
            on_record(index, future.result())

    with ThreadPoolExecutor(writers, thread_name_prefix="deal-write") as pool:
        try:
            for outcome in stream_outcomes(run.det, windows, batch_size=batch_size, workers=workers):
                item = run.items[outcome.index]
                if outcome.error is not None:
                    failed: Future = Future()
                    failed.set_result(run.error_record(outcome, item))
                    pending.append((outcome.index, failed))
                else:
                    pending.append((outcome.index, pool.submit(run.write_outputs, outcome, item)))
                reap()
        finally:
            reap(all_=True)


def _execute(run: _Run, progress: Progress, *, batch_size: int, workers: int, writers: int) -> None:
    """The local engine: the run's windows, decoded ahead, analysed here, written by `writers` threads."""

    def on_record(index: int, record: dict[str, Any]) -> None:
        run.note(index, record, progress)
        run.done_upto = index + 1
        run.interim_results(upto=index + 1)

    process_windows(
        run,
        input_windows(run, progress, batch_size),
        on_record,
        batch_size=batch_size,
        workers=workers,
        writers=writers,
    )
    run.done_upto = len(run.items)
