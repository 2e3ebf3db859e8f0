"""What a client may send: uploaded images checked before they are stored, names made safe, and paths kept
inside the job folder or the allowed roots.

Every refusal is a RequestRefused with an HTTP status and one sentence. Nothing a client sends becomes a
path outside the job's folder or an allowed root: upload names are reduced to one safe file name;
server-side paths are relative to an allowed root, with no ``..`` part, and every file they match must
resolve (symlinks followed) inside that root.
"""

from __future__ import annotations

import os
import re
import unicodedata
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from PIL import Image, UnidentifiedImageError

from deal.fileio import atomic_write_bytes
from deal.imageio import ensure_pillow_limit
from deal.provenance import open_image
from deal.runs.discovery import NoInputsError, find_inputs
from deal.serve.errors import RequestRefused

if TYPE_CHECKING:
    from fastapi import UploadFile

MAX_NAME_LENGTH = 120
_UNSAFE = re.compile(r"[^\w.\-]+")  # \w is Unicode-aware: letters and digits of any script stay


def safe_file_name(name: str | None, index: int) -> str:
    """A client's file name reduced to one safe name: its last component (after / or \\), NFC-normalized,
    runs of anything but letters, digits, '.', '-' and '_' replaced by '_', no leading dots, at most
    MAX_NAME_LENGTH characters (the extension kept); ``upload-<index>`` if nothing is left."""
    base = re.split(r"[\\/]", unicodedata.normalize("NFC", name or ""))[-1]
    base = _UNSAFE.sub("_", base).lstrip(".")
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    ext = ext[:10]
    stem = stem[: MAX_NAME_LENGTH - len(ext) - 1].strip("._") if dot else base[:MAX_NAME_LENGTH].strip("._")
    if not stem:
        stem = f"upload-{index}"
    return f"{stem}.{ext}" if ext else stem


def unique_names(names: Iterable[str]) -> list[str]:
    """The names with later duplicates (compared case-insensitively) renamed ``stem-2.ext``, ``stem-3.ext``..."""
    seen: set[str] = set()
    out = []
    for name in names:
        candidate, n = name, 1
        while candidate.lower() in seen:
            n += 1
            stem, dot, ext = name.rpartition(".")
            candidate = f"{stem}-{n}.{ext}" if dot else f"{name}-{n}"
        seen.add(candidate.lower())
        out.append(candidate)
    return out


def check_image_bytes(data: bytes, name: str, *, max_bytes: int, max_pixels: int) -> tuple[int, int]:
    """(width, height) of an uploaded image, read from its header without decoding its pixels.

    Raises:
        RequestRefused: 422 empty or not an image; 413 over `max_bytes` or over `max_pixels` (a possible
        decompression bomb: the limit `deal detect --max-pixels` applies).
    """
    if not data:
        raise RequestRefused(422, f"{name}: empty file (0 bytes).")
    if len(data) > max_bytes:
        raise RequestRefused(
            413, f"{name}: {len(data):,} bytes, over the limit of {max_bytes:,} bytes per file."
        )
    ensure_pillow_limit(max_pixels)  # Pillow refuses only far beyond max_pixels; the check below is ours
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # refused below, with our words
            with open_image(data).image as img:  # deal's opener: a PNG text chunk Pillow refuses is set aside
                width, height = img.size
    except Image.DecompressionBombError:
        raise RequestRefused(
            413, f"{name}: over the limit of {max_pixels:,} pixels (a possible decompression bomb)."
        ) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        raise RequestRefused(422, f"{name}: not an image that can be read ({len(data):,} bytes).") from None
    if width * height > max_pixels:
        raise RequestRefused(
            413,
            f"{name}: {width}x{height} = {width * height:,} pixels, over the limit of {max_pixels:,} "
            "(a possible decompression bomb).",
        )
    return width, height


def store_uploads(
    folder: Path, files: Sequence[UploadFile], *, max_file_bytes: int, max_pixels: int
) -> list[dict[str, str]]:
    """Checks each upload (check_image_bytes) and writes it into `folder` with a safe, unique name, in the
    order given; returns each one's {"name": the client's name, "stored": the name it was stored under}."""
    names = unique_names(safe_file_name(f.filename, i) for i, f in enumerate(files, 1))
    stored = []
    for upload, name in zip(files, names):
        shown = upload.filename or name
        if upload.size is not None and upload.size > max_file_bytes:
            raise RequestRefused(
                413, f"{shown}: {upload.size:,} bytes, over the limit of {max_file_bytes:,} bytes per file."
            )
        data = upload.file.read(max_file_bytes + 1)
        check_image_bytes(data, shown, max_bytes=max_file_bytes, max_pixels=max_pixels)
        atomic_write_bytes(folder / name, data)
        stored.append({"name": upload.filename or "", "stored": name})
    return stored


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def relative_parts(text: str, what: str) -> tuple[str, ...]:
    """The parts of a client's relative posix path; refuses absolute paths, ``..``, empty and NUL."""
    if not text or "\x00" in text:
        raise RequestRefused(422, f"{what} {text!r} is empty or holds a NUL character.")
    if text.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", text):
        raise RequestRefused(403, f"{what} {text!r} is absolute; give it relative to an allowed root.")
    parts = PurePosixPath(text).parts
    if any(p == ".." for p in parts) or any(p == ".." for p in re.split(r"[\\/]", text)):
        raise RequestRefused(403, f"{what} {text!r} climbs out of its folder with '..'.")
    return parts


def server_inputs(paths: Iterable[str], roots: Mapping[str, Path]) -> tuple[list[str], list[str], int]:
    """Client paths (``<root name>/<file, folder or glob>``) -> (the absolute arguments for deal detect, the
    roots they are under, how many images they match), after checking every match (check_inside).

    Raises:
        RequestRefused: 403 no allowed roots, an unknown root, an absolute path, ``..`` or a match that
        resolves outside its root (a symlink escape); 422 nothing matched.
    """
    if not roots:
        raise RequestRefused(
            403, "this server accepts uploads only (start it with --allow-root to allow paths)."
        )
    args, used = [], []
    for text in paths:
        parts = relative_parts(text, "path")
        root = roots.get(parts[0])
        if root is None:
            raise RequestRefused(
                403, f"path {text!r} is not under an allowed root (allowed: {', '.join(sorted(roots))})."
            )
        args.append(os.path.join(root, *parts[1:]))
        if str(root) not in used:
            used.append(str(root))
    if not args:
        raise RequestRefused(422, "give at least one file or path.")
    return args, used, check_inside(args, used)


def check_inside(args: Sequence[str], roots: Sequence[str]) -> int:
    """How many images deal detect would read for `args`, after checking that each one resolves (symlinks
    followed) inside one of `roots`. Run when a job is created and again when it starts.

    Raises:
        RequestRefused: 422 nothing matched; 403 a match resolves outside the roots.
    """
    try:
        items, _, _ = find_inputs(list(args))
    except NoInputsError:
        raise RequestRefused(422, "no images match these paths.") from None
    real_roots = [Path(os.path.realpath(r)) for r in roots]
    for item in items:
        real = Path(os.path.realpath(item.path))
        if not any(_inside(real, r) for r in real_roots):
            raise RequestRefused(403, f"{item.rel}: resolves outside the allowed roots (a symlink).")
    return len(items)


def file_in(folder: Path, rel: str) -> Path:
    """The file `rel` (a client's relative path) under `folder`, which it must not leave even through a
    symlink. Raises RequestRefused (403 leaves the folder, 404 no such file)."""
    parts = relative_parts(rel, "file")
    base = folder.resolve()
    path = base.joinpath(*parts).resolve()
    if not _inside(path, base):
        raise RequestRefused(403, f"file {rel!r} is outside the job's folder.")
    if not path.is_file():
        raise RequestRefused(404, f"no file {rel!r} in this job.")
    return path
