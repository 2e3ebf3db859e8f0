"""run_detection: a Detector over files, folders and globs, to an output folder that survives being killed.

The inputs are listed (deal.runs.discovery), the output folder locked and cleared of a killed run's
temporary files (deal.runs.lock), the inputs done by an earlier run skipped, the rest analysed and written
by an engine (deal.runs.engine: "local" or "ray"), each input's outputs and record written atomically
(deal.runs.run). results.jsonl and results.csv (one row per input, in input order) are rewritten
atomically at the end, and during long runs every few minutes with the inputs done so far; the HTML
report (deal.report) is rendered from the records and the run's metadata. Last, every run writes run.json
(deal.runs.run_info), MANIFEST.sha256 (deal.runs.manifest: every output and input, which
deal.runs.verify checks) and run_times.json.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deal.baselines.views import check_view_names
from deal.fileio import write_json
from deal.inference.detector import Detector
from deal.modeling.constants import DEFAULT_BATCH_SIZE
from deal.report.outputs import DEFAULT_SAVE, parse_save
from deal.runs.discovery import InputFile, find_inputs, read_input_list
from deal.runs.engine import Engine, LocalEngine
from deal.runs.lock import RunLock, remove_stray_parts
from deal.runs.manifest import write_manifest
from deal.runs.progress import Progress
from deal.runs.records import RESULTS_CSV, RESULTS_JSONL
from deal.runs.run import Run, RunSummary, input_windows
from deal.runs.run_info import RUN_JSON, RUN_TIMES_JSON, CaseInfo, now_utc, run_info

if TYPE_CHECKING:
    from deal.runs.ray_engine import RayOptions

REPORT_KINDS = ("html",)
ENGINES = ("local", "ray")


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
    case: CaseInfo | None = None,
    make_progress: Callable[[int], Progress] | None = None,
    views: Sequence[str] = (),
) -> RunSummary:
    """Runs `detector` over files, folders and glob patterns; writes outputs under `out_dir`.

    Args:
        inputs: files, folders (recursive) and globs (see deal.runs.discovery).
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
            inputs, appended to `inputs` (deal.runs.discovery.read_input_list).
        engine: "local" (this process) or "ray" (a pool of Ray actors, each holding a copy of `detector`,
            on a local or existing Ray cluster: deal.runs.ray_engine; `workers` and `writers` are then
            each actor's decoding and writing threads). Same outputs, records and resumption.
        ray_options: the Ray engine's settings (cluster address, actors, GPUs per actor); None: the defaults.
        case: the case, examiner and note, recorded in run.json and shown in the report.
        make_progress: builds the run's Progress from its number of inputs, for a caller that watches it
            (deal serve); None: Progress(n, quiet=quiet), on stderr.
        views: classic forensic views (deal.baselines.views: ela, noise, jpeg, spectral, copymove) computed
            in the decoding threads; each map is written beside the heatmap (``<name>.view-<view>.png``)
            and named in the record (outputs ``view-<view>``, ``views``); the report shows them as layers.

    Returns:
        RunSummary (exit_code 1 if some input failed).

    Raises:
        NoInputsError: nothing matched. ValueError: a bad `save` / `report` / `engine` / `views` value.
        RunLockedError. deal.runs.ray_engine.RayUnavailableError: engine="ray" without Ray installed.
    """
    kinds = parse_save(save)
    views = tuple(check_view_names(views))
    chosen, ray_options = _check_and_choose_engine(report, batch_size, workers, writers, engine, ray_options)
    out = Path(out_dir)
    items, root, progress = _list_inputs(inputs, inputs_from, out, quiet, make_progress)
    options = _recorded_options(
        inputs, inputs_from, out_dir, kinds, report, overwrite, engine, ray_options,
        batch_size=batch_size, workers=workers, writers=writers, views=views,
    )
    out.mkdir(parents=True, exist_ok=True)
    t_start, started = time.perf_counter(), now_utc()
    with RunLock(out):
        remove_stray_parts(out)
        run = Run(items, root, out, detector, kinds, report, overwrite, case, views=views)
        _execute(chosen, run, progress, batch_size=batch_size, workers=workers, writers=writers)
        n_failed, verdicts = run.write_results()
        shown = [*inputs, *(["--inputs-from", inputs_from] if inputs_from is not None else [])]
        report_path = run.write_report(shown) if report == "html" else None
        _record_run(run, options, started)
    summary = RunSummary(
        n_inputs=len(items), n_processed=progress.processed, n_skipped=progress.skipped, n_failed=n_failed,
        verdicts=verdicts, seconds=time.perf_counter() - t_start, out_dir=out, report=report_path,
        results_jsonl=out / RESULTS_JSONL, results_csv=out / RESULTS_CSV,
    )
    if not quiet:
        progress.message(f"deal detect: {summary.text()}")
    return summary


def _list_inputs(
    inputs: Sequence[str | os.PathLike],
    inputs_from: str | os.PathLike | None,
    out: Path,
    quiet: bool,
    make_progress: Callable[[int], Progress] | None,
) -> tuple[list[InputFile], Path, Progress]:
    """The run's inputs (deal.runs.discovery), their common root, and the run's Progress, which has said
    the listing's warnings."""
    listed = read_input_list(inputs_from) if inputs_from is not None else []
    items, root, warnings = find_inputs([*inputs, *listed], out_dir=out)
    progress = make_progress(len(items)) if make_progress is not None else Progress(len(items), quiet=quiet)
    for w in warnings:
        progress.message(f"warning: {w}")
    return items, root, progress


def _recorded_options(
    inputs: Sequence[str | os.PathLike],
    inputs_from: str | os.PathLike | None,
    out_dir: str | os.PathLike,
    kinds: tuple[str, ...],
    report: str | None,
    overwrite: bool,
    engine: str,
    ray_options: RayOptions | None,
    *,
    batch_size: int,
    workers: int,
    writers: int,
    views: tuple[str, ...] = (),
) -> dict[str, Any]:
    """run_detection's options as run.json records them."""
    return {
        "inputs": [os.fspath(i) for i in inputs],
        "inputs_from": None if inputs_from is None else os.fspath(inputs_from),
        "out": os.fspath(out_dir),
        "save": list(kinds),
        "report": report,
        "overwrite": overwrite,
        "batch_size": batch_size,
        "workers": workers,
        "writers": writers,
        "views": list(views),
        "engine": engine,
        "ray": None if ray_options is None else dataclasses.asdict(ray_options),
    }


def _check_and_choose_engine(
    report: str | None, batch_size: int, workers: int, writers: int, engine: str, ray_options: RayOptions | None
) -> tuple[Engine, RayOptions | None]:
    """ValueError on a bad report kind, batch size, thread count or engine name; else (the engine, its
    Ray options with the defaults filled in, as run.json records them; None for the local engine)."""
    if report is not None and report not in REPORT_KINDS:
        raise ValueError(f"unknown report kind {report!r}; choose from {list(REPORT_KINDS)}")
    if batch_size < 1 or workers < 0 or writers < 1:
        raise ValueError(
            f"need batch_size >= 1, workers >= 0, writers >= 1 (got {batch_size}, {workers}, {writers})"
        )
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose from {list(ENGINES)}")
    if engine == "ray":
        from deal.runs.ray_engine import RayEngine

        chosen = RayEngine(ray_options)  # RayUnavailableError before any work when Ray is missing
        return chosen, chosen.options
    return LocalEngine(), ray_options


def _execute(engine: Engine, run: Run, progress: Progress, *, batch_size: int, workers: int, writers: int) -> None:
    """The engine does the run's windows; on Ctrl-C or a crash the results of the inputs done so far are
    written before the exception goes on."""
    try:
        engine.execute(
            run,
            progress,
            input_windows(run, progress, batch_size),
            batch_size=batch_size,
            workers=workers,
            writers=writers,
        )
    except BaseException:
        progress.close()
        if run.done_upto:
            run.write_results(upto=run.done_upto)
        raise
    progress.close()


def _record_run(run: Run, options: dict[str, Any], started: str) -> Path:
    """Writes run.json, then MANIFEST.sha256 (every file of the run folder, and every input that was read
    by the sha256 its record holds), then run_times.json. Returns the manifest's path."""
    inputs = []
    for i in range(len(run.items)):
        record = run.record_of(i)
        if record.get("sha256"):
            inputs.append((os.path.abspath(record["path"]), record["sha256"]))
    write_json(run.out / RUN_JSON, run_info(run.det, run.case, options))
    manifest = write_manifest(run.out, inputs)
    write_json(run.out / RUN_TIMES_JSON, {"started": started, "ended": now_utc()})
    return manifest
