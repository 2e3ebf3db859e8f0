"""Checking an output folder or file can be written before a long job starts (a usage error otherwise)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from deal.errors import UsageError


def _reason(err: OSError) -> str:
    return err.strerror or type(err).__name__


def _check_no_file_above(folder: Path, option: str, target: Path | None = None) -> None:
    for above in (folder, *folder.parents):
        if above.exists() and not above.is_dir():
            raise UsageError(
                f"{option} {target or folder}: cannot write there ({above} is a file, not a folder)"
            )


def check_output_dir(path: str | Path, option: str) -> Path:
    """Creates ``path`` (and its parents) and writes a temporary file in it.

    Raises:
        UsageError: one sentence naming the option, the folder and the reason.
    """
    path = Path(path)
    _check_no_file_above(path, option)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as err:
        raise UsageError(f"{option} {path}: cannot write to this folder ({_reason(err)})") from err
    return path


def check_output_file(path: str | Path, option: str) -> Path:
    """Checks ``path`` is not a folder and its folder can be written (created if missing).

    Raises:
        UsageError: one sentence naming the option, the file and the reason.
    """
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{option} {path}: is a folder, expected a file name")
    _check_no_file_above(path.parent, option, path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as err:
        raise UsageError(f"{option} {path}: cannot write this file ({_reason(err)})") from err
    return path
