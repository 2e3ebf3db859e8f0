"""Which files a run reads, in which order, and where each one's outputs go.

Arguments are files, folders (searched recursively) and glob patterns (``**`` allowed). Folders and
globs contribute files with an image extension (IMAGE_EXTENSIONS, any case); a file named explicitly is
always an input (a missing one fails with "no such file"). Order: arguments in the order given, each
folder walked in sorted order (a folder's files before its sub-folders'), duplicates dropped.

A list file (read_input_list: text or CSV, for runs of millions of inputs) adds its entries as arguments.

Each input gets a relative path under the common root of the arguments (a folder argument is its own
root; a file's root is its folder; a glob's is the folder before its first wildcard), so outputs mirror
the input tree and same-named files in different folders never collide.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from deal.imageio import IMAGE_EXTENSIONS
from deal.report.outputs import STATE_DIR, SUFFIXES

_OWN_IMAGE_SUFFIXES = tuple(SUFFIXES[k] for k in ("heatmap", "mask", "overlay"))


class NoInputsError(ValueError):
    """No argument matched an image (a usage error)."""


@dataclass(frozen=True)
class InputFile:
    """One input: the path to read, its path relative to the root (the key of its outputs), and a
    problem found while listing it (None when it is to be read)."""

    path: Path
    rel: str
    problem: str | None = None


def _has_magic(s: str) -> bool:
    return any(c in s for c in "*?[")


def _glob_base(pattern: str) -> str:
    parts = Path(pattern).parts
    base = []
    for part in parts:
        if _has_magic(part):
            break
        base.append(part)
    return os.path.join(*base) if base else "."


def is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def _is_own_output(path: str, out_dir: str | None) -> bool:
    if out_dir is None:
        return False
    if os.path.commonpath([os.path.abspath(path), out_dir]) != out_dir:
        return False
    return path.endswith(_OWN_IMAGE_SUFFIXES)


def _walk(folder: str, out_dir: str | None, problems: list[tuple[str, str]]) -> list[str]:
    found: list[str] = []

    def onerror(err: OSError) -> None:
        problems.append((err.filename or folder, f"cannot list folder: {err.strerror or err}"))

    for top, dirs, files in os.walk(folder, onerror=onerror):
        dirs.sort()
        if out_dir is not None and os.path.abspath(top) == out_dir and STATE_DIR in dirs:
            dirs.remove(STATE_DIR)
        for name in sorted(files):
            path = os.path.join(top, name)
            if is_image_name(name) and not _is_own_output(path, out_dir):
                found.append(path)
    return found


def read_input_list(path: str | os.PathLike) -> list[str]:
    """The inputs listed in a file: a CSV file (.csv: the "path" column, else the first; a header row) or a
    text file (one a line; blank lines and lines starting with # skipped). Each entry is a file, folder or
    glob as on the command line; a relative one is relative to the list's folder.

    Raises:
        NoInputsError: the list cannot be read, or lists nothing.
    """
    import csv

    base = os.path.dirname(os.fspath(path))
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            if os.fspath(path).lower().endswith(".csv"):
                rows = list(csv.reader(f))
                header = [h.strip().lower() for h in rows[0]] if rows else []
                col = header.index("path") if "path" in header else 0
                entries = [r[col].strip() for r in rows[1:] if len(r) > col]
            else:
                entries = [line.strip() for line in f]
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise NoInputsError(f"{path}: cannot read this list of inputs: {err}") from err
    entries = [e for e in entries if e and not e.startswith("#")]
    if not entries:
        raise NoInputsError(f"{path}: this list of inputs is empty")
    return [e if os.path.isabs(e) else os.path.join(base, e) for e in entries]


def find_inputs(
    inputs: Sequence[str | os.PathLike], *, out_dir: str | os.PathLike | None = None
) -> tuple[list[InputFile], Path, list[str]]:
    """Expands the arguments into inputs.

    Args:
        inputs: files, folders and glob patterns.
        out_dir: the run's output folder: its state folder and the outputs it holds are never inputs.

    Returns:
        (inputs, root, warnings): inputs in order, the root their relative paths start from, and
        messages about arguments that matched nothing.

    Raises:
        NoInputsError: nothing to read at all.
    """
    out_abs = os.path.abspath(out_dir) if out_dir is not None else None
    entries: list[tuple[str, str | None]] = []  # (path, problem)
    bases: list[str] = []
    missing: set[str] = set()
    warnings: list[str] = []
    for arg in map(os.fspath, inputs):
        if os.path.isdir(arg):
            problems: list[tuple[str, str]] = []
            found = _walk(arg, out_abs, problems)
            bases.append(os.path.abspath(arg))
            entries += [(p, None) for p in found] + problems
            if not found and not problems:
                warnings.append(f"{arg}: no images ({', '.join(IMAGE_EXTENSIONS)}) in this folder")
        elif os.path.lexists(arg) or not _has_magic(arg):
            entries.append((arg, None))
            if os.path.lexists(arg):
                bases.append(os.path.dirname(os.path.abspath(arg)))
            else:
                missing.add(arg)
        else:
            matched = 0
            problems = []
            for match in sorted(glob.glob(arg, recursive=True)):
                if os.path.isdir(match):
                    found = _walk(match, out_abs, problems)
                elif is_image_name(match) and not _is_own_output(match, out_abs):
                    found = [match]
                else:
                    continue
                entries += [(p, None) for p in found]
                matched += len(found)
            entries += problems
            bases.append(os.path.abspath(_glob_base(arg)))
            if not matched and not problems:
                warnings.append(f"{arg}: no image matches this pattern")
    if not entries:
        raise NoInputsError("no images to process: " + ("; ".join(warnings) or "no inputs given"))
    root = os.path.commonpath(bases) if bases else os.path.abspath(".")
    seen: set[str] = set()
    out: list[InputFile] = []
    for path, problem in entries:
        key = os.path.normpath(os.path.abspath(path))
        if key in seen:
            continue
        seen.add(key)
        if path in missing:
            rel = Path(path).name  # a missing file writes nothing: its name is enough
        else:
            rel = Path(os.path.relpath(key, root)).as_posix()
        out.append(InputFile(Path(path), rel, problem))
    return out, Path(root), warnings
