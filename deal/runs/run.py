"""One run of a Detector over a folder's inputs: its state, its windows of work, and the work on a window.

Per input, the outputs (deal.report.outputs) are written atomically and the record LAST: the
``<name>.json`` sidecar (or, without "json" in `save`, ``.deal/records/<rel>.json``). A record whose
detector, threshold, tiling, input size and requested outputs match this run means the input is done,
and a rerun skips it (unless overwrite). Inputs that failed are retried by every run. Because batches are
fixed windows of inputs (deal.inference.streaming), a resumed run writes byte-identical outputs to an
uninterrupted one on the same device, and the same results.jsonl but for `seconds`.

Both engines (deal.runs.engine) draw their work from input_windows and do it with process_windows.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deal.fileio import atomic_write_bytes, atomic_write_text
from deal.inference.detection import Detection
from deal.inference.detector import Detector
from deal.inference.regions import MIN_REGION_FRACTION
from deal.inference.streaming import Outcome, WorkItem, stream_outcomes
from deal.metrics.image_score import VERDICTS, detector_verdict_limitation
from deal.report.html import BUNDLED_KEY, LIMITATION_KEY, write_report
from deal.report.outputs import (
    STATE_DIR,
    heatmap_png,
    mask_png,
    npz_bytes,
    output_name,
    overlay_jpg,
    thumbnail_jpg,
    view_kind,
    view_output_name,
)
from deal.runs.discovery import InputFile
from deal.runs.progress import Progress
from deal.runs.records import (
    RESULTS_CSV,
    RESULTS_JSONL,
    is_complete,
    make_record,
    read_record,
    record_json,
    views_complete,
    write_results,
)
from deal.runs.run_info import CaseInfo
from deal.version import __version__

_MIN_RESULTS_INTERVAL = 120.0  # seconds between interim rewrites of results.jsonl (at least)


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


class Run:
    """The state of one run_detection call (paths, settings, failures of this run), shared by the engines.

    An engine reads its inputs (items), writes each input's outputs and record (write_outputs), and
    counts records as they come (note); the driver keeps the failures and writes results and report.
    """

    def __init__(
        self,
        items: Sequence[InputFile] | Mapping[int, InputFile],
        root: Path,
        out_dir: Path,
        detector: Detector,
        kinds: tuple[str, ...],
        report: str | None,
        overwrite: bool,
        case: CaseInfo | None = None,
        views: Sequence[str] = (),
    ) -> None:
        self.items, self.root, self.out, self.det = items, root, out_dir, detector
        self.views = tuple(views)  # classic forensic views (deal.baselines.views), computed while decoding
        self.kinds, self.report, self.overwrite = kinds, report, overwrite
        self.case = case or CaseInfo()  # case, examiner and note: run.json and the report's settings
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
            "region_min_fraction": MIN_REGION_FRACTION,
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
            region_min_fraction=MIN_REGION_FRACTION,
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
        record = read_record(self.record_path(item))
        if record is not None and not views_complete(record, self.out, self.views):
            return False
        return self.det.provenance.made((record or {}).get("provenance")) and is_complete(
            record,
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
            views = self._write_views(d, item, outputs)
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
                n_regions_dropped=d.n_regions_dropped,
                regions=d.regions,
                inference=outcome.inference,
                outputs=outputs,
                seconds=round(outcome.seconds + time.perf_counter() - t0, 4),
                notes=list(d.notes),
                provenance=d.provenance,
                views=views,
            )
            atomic_write_text(record_path, record_json(record))
            return record
        except Exception as err:  # e.g. disk full: this input fails, the run goes on
            return self.base_record(
                item,
                error=f"{item.path}: cannot write outputs: {type(err).__name__}: {err}",
                seconds=round(outcome.seconds + time.perf_counter() - t0, 4),
            )

    def _write_views(self, d: Detection, item: InputFile, outputs: dict[str, str]) -> dict[str, dict[str, Any]]:
        """Writes each view's map (encoded as the heatmap) beside the heatmap; returns the record's views."""
        views = {}
        for name, view in d.views.items():
            if view.map is not None:
                rel = view_output_name(item.rel, name)
                atomic_write_bytes(self.out / rel, heatmap_png(view.map))
                outputs[view_kind(name)] = rel
            views[name] = {
                "score": None if view.score is None else round(view.score, 6),
                "note": view.note,
                "seconds": round(view.seconds, 4),
                "failed": view.failed,
            }
        return views

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

        write_results(records(), self.out / RESULTS_JSONL, self.out / RESULTS_CSV)
        return failed[0], verdicts

    def metadata(self, inputs: Sequence[str | os.PathLike]) -> dict[str, Any]:
        """The run's settings as the report shows them (name -> value; BUNDLED_KEY marks the bundled
        demonstration detector, as the Detector was loaded), with the case, examiner and note if given."""
        det = self.det
        return {
            "inputs": " ".join(map(os.fspath, inputs)),
            "detector": det.name,
            "detector sha256": det.sha256 or "(in memory)",
            BUNDLED_KEY: det.bundled,
            "model": f"{det.config.encoder}, {det.config.input_policy} policy, image size {det.config.image_size}",
            "threshold": det.threshold,
            "verdict thresholds (image score: low, high)": ", ".join(f"{t:g}" for t in det.image_thresholds),
            LIMITATION_KEY: detector_verdict_limitation(det.image_thresholds, det.info) or "none",
            "tiling": f"on (tiles of {det.config.image_size} px, overlap {det.overlap} px)"
            if det.tile
            else "off",
            "device": f"{det.device.type} ({det.precision})",
            "regions": f"connected parts of the mask covering at least {MIN_REGION_FRACTION:.2%} of the image",
            "saved": ", ".join(self.kinds) or "(records only)",
            "deal version": self.version,
            **self.case.settings(),
        }

    def write_report(self, inputs: Sequence[str | os.PathLike]) -> Path:
        """Writes <out>/report.html from the records and the run's metadata (deal.report)."""
        entries = ((i, self.record_of(i), self.thumb_path(self.items[i])) for i in range(len(self.items)))
        return write_report(self.out / "report.html", entries, settings=self.metadata(inputs))


def input_windows(run: Run, progress: Progress, batch_size: int) -> Iterator[list[WorkItem]]:
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
    run: Run,
    items: Mapping[int, InputFile] | Sequence[InputFile],
    windows: Iterable[list[WorkItem]],
    on_record: Callable[[int, dict[str, Any]], None],
    *,
    batch_size: int,
    workers: int,
    writers: int,
) -> None:
    """Decodes and analyses windows of inputs and writes each wanted input's outputs and record.

    The work of both engines: the local one runs it over all the windows of a run, each Ray worker over
    the windows sent to it (items: the inputs by index, at least those of the windows). Calls on_record(index, record) once per wanted input, in input order.
    """
    pending: deque[tuple[int, Future]] = deque()
    max_pending = 2 * batch_size

    def reap(all_: bool = False) -> None:
        while pending and (all_ or pending[0][1].done() or len(pending) > max_pending):
            index, future = pending.popleft()
            on_record(index, future.result())

    with ThreadPoolExecutor(writers, thread_name_prefix="deal-write") as pool:
        try:
            for outcome in stream_outcomes(run.det, windows, batch_size=batch_size, workers=workers, views=run.views):
                item = items[outcome.index]
                if outcome.error is not None:
                    failed: Future = Future()
                    failed.set_result(run.error_record(outcome, item))
                    pending.append((outcome.index, failed))
                else:
                    pending.append((outcome.index, pool.submit(run.write_outputs, outcome, item)))
                reap()
        finally:
            reap(all_=True)
