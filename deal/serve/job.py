"""A job of `deal serve`: what to run (its inputs and `deal detect` options), where it lives and how it ended.

A job's folder, ``<data>/jobs/<id>/``::

    inputs/      the uploaded images (safe names), absent for a job of server-side paths
    out/         the run folder: exactly what `deal detect --out out/` writes (records, maps, report)
    job.json     what to run (inputs, options), written last when the job is created
    state.json   how it ended (done or failed, the run's summary, when), written when it ends
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deal.fileio import atomic_write_bytes, write_json
from deal.runs.progress import Progress

log = logging.getLogger("deal.serve")

JOBS_DIR = "jobs"
JOB_FILE, STATE_FILE, INPUTS_DIR, OUT_DIR = "job.json", "state.json", "inputs", "out"
RESULTS_FILE = "results.jsonl"  # deal detect's records, in input order (deal.runs.records)
MAX_ERRORS_SHOWN = 100
ID_LENGTH = 32  # hex characters: 128 random bits, unguessable
ENDED_STATES = ("done", "failed")


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
    """A job's `deal detect` options: outputs, report, thresholds (None: the detector's) and views."""

    save: str = "heatmap,mask,overlay,json"
    report: str | None = "html"
    threshold: float | None = None
    image_thresholds: tuple[float, float] | None = None
    views: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "save": self.save,
            "report": self.report,
            "threshold": self.threshold,
            "image_thresholds": list(self.image_thresholds) if self.image_thresholds else None,
            "views": list(self.views),
        }

    @classmethod
    def from_dict(cls, o: dict[str, Any]) -> JobOptions:
        pair = o.get("image_thresholds")
        return cls(o["save"], o["report"], o["threshold"], tuple(pair) if pair else None, tuple(o.get("views", ())))


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
    bytes: int | None = None  # the folder's size once the job has ended (it no longer changes)

    @property
    def out(self) -> Path:
        return self.folder / OUT_DIR

    @property
    def has_ended(self) -> bool:
        return self.state in ENDED_STATES

    @property
    def ended_at(self) -> float:
        """When the job ended (state.json's time; its file time for a state.json that has none)."""
        if "ended_at" in self.ended:
            return float(self.ended["ended_at"])
        try:
            return (self.folder / STATE_FILE).stat().st_mtime
        except OSError:
            return self.created

    def write_spec(self) -> None:
        """Writes job.json: the job exists from then on."""
        spec = {
            "id": self.id,
            "created": self.created,
            "inputs": self.inputs,
            "roots": self.roots,
            "n_inputs": self.n_inputs,
            "options": self.options.as_dict(),
        }
        write_json(self.folder / JOB_FILE, spec)

    def write_ended(self, ended: dict[str, Any]) -> None:
        """Writes state.json (how the job ended), then takes that state."""
        atomic_write_bytes(self.folder / STATE_FILE, (json.dumps(ended, indent=2) + "\n").encode())
        self.ended, self.state = ended, ended["state"]

    @classmethod
    def read(cls, folder: Path) -> Job:
        """The job of `folder` (job.json, and state.json when it has ended). OSError, ValueError, KeyError
        or TypeError for an unreadable one."""
        spec = json.loads((folder / JOB_FILE).read_text(encoding="utf-8"))
        job = cls(
            folder.name,
            folder,
            list(spec["inputs"]),
            JobOptions.from_dict(spec["options"]),
            int(spec["n_inputs"]),
            spec["created"],
            roots=list(spec.get("roots") or []),
        )
        if (folder / STATE_FILE).is_file():
            job.ended = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
            job.state = job.ended["state"]
        return job


def folder_bytes(folder: Path) -> int:
    """The bytes of the files under `folder` (0 for one that is gone)."""
    total = 0
    for dirpath, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:  # removed meanwhile
                pass
    return total
