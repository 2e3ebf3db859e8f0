"""What clients see of a job: its status, its records and its files, with no path of the server's disk.

A job's files on disk are exactly what `deal detect` wrote (complete, for `deal verify`). What is sent to
a client names files relative to the job instead: an upload is ``inputs/<name>``, the run folder ``out``,
a server-side input ``<root name>/<path under that root>`` (the way the client named it), the detector
file by its name. run.json as served also leaves out the server's working directory, Python executable
and kernel release.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

from deal.serve.job import RESULTS_FILE, Job, JobProgress

# Fields of run.json (deal.runs.run_info) that describe the server rather than the run: not served.
RUN_JSON_PRIVATE = (("cwd",), ("platform", "executable"), ("platform", "release"))
RUN_JSON = "run.json"


class ClientPaths:
    """Rewrites a job's absolute server paths into the names a client knows (see the module's doc)."""

    def __init__(self, job: Job) -> None:
        pairs: dict[str, str] = {}
        for folder in {str(job.folder), os.path.realpath(job.folder)}:
            pairs[folder + os.sep] = ""
        for root in job.roots:
            for path in {str(root), os.path.realpath(root)}:
                pairs[path.rstrip(os.sep) + os.sep] = Path(root).name + "/"
        # Longest first, so that a root inside another is rewritten by its own name.
        self.pairs = sorted(pairs.items(), key=lambda kv: -len(kv[0]))

    def text(self, text: str) -> str:
        for prefix, name in self.pairs:
            text = text.replace(prefix, name)
        return text

    def html(self, text: str) -> str:
        """`text` of an HTML page, where the paths may be HTML-escaped."""
        for prefix, name in self.pairs:
            text = text.replace(prefix, name).replace(html.escape(prefix), html.escape(name))
        return text

    def json(self, value: Any) -> Any:
        """A copy of a JSON value with every string rewritten."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.json(v) for v in value]
        if isinstance(value, dict):
            return {k: self.json(v) for k, v in value.items()}
        return value


def job_status(job: Job, state: str, ended: dict[str, Any], progress: JobProgress | None) -> dict[str, Any]:
    """A job's status: state, progress (inputs done of total, images/s), verdicts and the errors so far.
    state, ended and progress: the job's, read together (under the store's lock)."""
    if ended.get("state") == "done":
        done = total = ended["n_inputs"]
        speed = ended["images_per_second"]
        counts = {k: ended[k] for k in ("n_processed", "n_skipped", "n_failed")}
        errors = list(ended.get("errors") or [])
    elif progress is not None:
        done, total, speed = progress.done, progress.total, progress.images_per_second
        counts = {"n_processed": progress.processed, "n_skipped": progress.skipped, "n_failed": progress.failed}
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
        "errors": ClientPaths(job).json(errors),
        "options": job.options.as_dict(),
    }


def job_records(job: Job) -> list[dict[str, Any]]:
    """The run's records (results.jsonl, in input order), with paths relative to the job."""
    paths = ClientPaths(job)
    with open(job.out / RESULTS_FILE, encoding="utf-8") as f:
        return [paths.json(json.loads(line)) for line in f if line.strip()]


def redacted_run_info(info: dict[str, Any], paths: ClientPaths) -> dict[str, Any]:
    """run.json as a client sees it: no field of RUN_JSON_PRIVATE, the detector file by its name."""
    info = paths.json(info)
    for keys in RUN_JSON_PRIVATE:
        parent = info
        for key in keys[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if isinstance(parent, dict):
            parent.pop(keys[-1], None)
    detector = info.get("detector")
    if isinstance(detector, dict) and detector.get("path"):
        detector["path"] = os.path.basename(detector["path"])
    return info


def served_text(job: Job, path: Path) -> tuple[str, str] | None:
    """(the text to send, its media type) for a text file of the job's run folder that may name server
    paths (JSON, JSON Lines, CSV, HTML, the sha256 manifest), rewritten for the client; None for a file sent
    as it is."""
    suffix = path.suffix.lower()
    if suffix not in (".json", ".jsonl", ".csv", ".html", ".sha256"):
        return None
    paths = ClientPaths(job)
    text = path.read_text(encoding="utf-8")
    if suffix == ".json":
        value = json.loads(text)
        if path.name == RUN_JSON and path.parent == job.out.resolve():
            value = redacted_run_info(value, paths)
        else:
            value = paths.json(value)
        return json.dumps(value, indent=2, ensure_ascii=False) + "\n", "application/json"
    if suffix == ".jsonl":
        lines = [json.dumps(paths.json(json.loads(line)), ensure_ascii=False) for line in text.splitlines() if line]
        return "".join(line + "\n" for line in lines), "application/x-ndjson"
    if suffix == ".csv":
        return paths.text(text), "text/csv"
    if suffix == ".sha256":
        return paths.text(text), "text/plain"
    return paths.html(text), "text/html"
