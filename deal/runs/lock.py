"""The output folder's lock (one run writes to a folder at a time) and the clean-up of a killed run's
temporary files."""

from __future__ import annotations

import os
import re
from pathlib import Path

from deal.report.outputs import STATE_DIR

# Temporary files of deal.fileio.atomic_path: "." + name + "." + 8 random characters + ".part".
_PART_FILE = re.compile(r"^\..+\.[a-z0-9_]{8}\.part$")


class RunLockedError(RuntimeError):
    """Another run is writing to the same output folder."""


def remove_stray_parts(out_dir: Path) -> int:
    """Deletes temporary files left by a killed run under `out_dir`. Returns how many."""
    n = 0
    for top, _, files in os.walk(out_dir):
        for name in files:
            if _PART_FILE.match(name):
                Path(top, name).unlink(missing_ok=True)
                n += 1
    return n


class RunLock:
    """An exclusive lock on <out>/.deal/lock (POSIX flock; a no-op where fcntl is missing)."""

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / STATE_DIR / "lock"
        self.fd: int | None = None

    def __enter__(self) -> RunLock:
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
