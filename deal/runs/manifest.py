"""MANIFEST.sha256: the sha256 of every file of a run folder and of every input, in `sha256sum -c` format.

Lines are "<64 hex digits>  <path>", sorted by path: outputs relative to the run folder, inputs by their
absolute path (so `cd RUN_DIR && sha256sum -c MANIFEST.sha256` checks both). A path holding a backslash or a
newline is written as GNU sha256sum does: the line starts with a backslash and the path has "\\\\" and
"\\n" escapes.

Not listed (they change without the evidence changing): the manifest itself, run_times.json (when the run
started and ended), the run folder's lock file and temporary files of a killed run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from deal.fileio import atomic_write_text, sha256_file
from deal.runs.lock import LOCK_FILE, is_part_file
from deal.runs.run_info import RUN_TIMES_JSON

MANIFEST_NAME = "MANIFEST.sha256"
_LINE = re.compile(r"^(\\?)([0-9a-f]{64}) [ *](.+)$")


def unlisted(rel: str) -> bool:
    """Whether a file of the run folder (path relative to it, posix) stays out of the manifest."""
    return rel in (MANIFEST_NAME, RUN_TIMES_JSON, LOCK_FILE) or is_part_file(rel.rsplit("/", 1)[-1])


def run_files(run_dir: Path) -> list[str]:
    """Every file of the run folder that the manifest lists (relative posix paths, sorted)."""
    out = []
    for top, dirs, files in os.walk(run_dir):
        dirs.sort()
        for name in files:
            rel = Path(top, name).relative_to(run_dir).as_posix()
            if not unlisted(rel):
                out.append(rel)
    return sorted(out)


def _escape(path: str) -> tuple[str, str]:
    if "\\" in path or "\n" in path or "\r" in path:
        return "\\", path.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    return "", path


def _unescape(path: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r", "\\": "\\"}.get(m.group(1), m.group(0)), path)


def manifest_text(entries: Iterable[tuple[str, str]]) -> str:
    """(path, sha256) pairs -> the manifest's text (sorted by path, one line each)."""
    lines = []
    for path, digest in sorted(set(entries)):
        prefix, escaped = _escape(path)
        lines.append(f"{prefix}{digest}  {escaped}\n")
    return "".join(lines)


def write_manifest(run_dir: Path, inputs: Iterable[tuple[str, str]]) -> Path:
    """Hashes every file of `run_dir` (run_files) and writes MANIFEST.sha256 with them and `inputs`
    ((absolute path, sha256) of each input that was read)."""
    entries = [(rel, sha256_file(run_dir / rel)) for rel in run_files(run_dir)]
    path = run_dir / MANIFEST_NAME
    atomic_write_text(path, manifest_text([*entries, *inputs]))
    return path


@dataclass
class ManifestEntry:
    line: int
    path: str
    sha256: str

    @property
    def is_input(self) -> bool:
        return os.path.isabs(self.path)


def read_manifest(path: Path) -> tuple[list[ManifestEntry], list[str]]:
    """(entries, problems): one problem per line that is not a sha256sum line, naming the line."""
    entries, problems = [], []
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return [], [f"{path}: missing (this folder has no manifest: not a complete deal detect run)"]
    except (OSError, UnicodeDecodeError) as err:
        return [], [f"{path}: cannot be read ({type(err).__name__}: {err})"]
    for n, line in enumerate(text.splitlines(), 1):
        m = _LINE.match(line)
        if not m:
            problems.append(f"{path.name} line {n}: not a '<sha256>  <path>' line: {line[:80]!r}")
            continue
        escaped, digest, name = m.groups()
        entries.append(ManifestEntry(n, _unescape(name) if escaped else name, digest))
    return entries, problems
