"""Path helpers shared by the layout loaders: image extensions, split names, unique sample names."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from deal.imageio import IMAGE_EXTENSIONS  # the image files deal reads (re-exported for the loaders)

SPLITS: tuple[str, ...] = ("train", "val", "test")

# How many names an error message lists before it says "... and N more".
MAX_LISTED = 10


def is_image_file(path: Path) -> bool:
    """True for a visible file with an image extension (skips macOS ``._name`` AppleDouble files)."""
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith("._")


def iter_image_files(root: Path) -> list[Path]:
    """All image files under ``root``, recursively, sorted; hidden folders and ``__MACOSX`` skipped."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not (d.startswith(".") or d == "__MACOSX")]
        found += [p for p in (Path(folder, f) for f in files) if is_image_file(p)]
    return sorted(found)


def split_from_path(path: Path, root: Path) -> str:
    """The split a file belongs to, from its folders: the outermost of ``root``'s own name and the
    folders between ``root`` and the file that is exactly ``train``, ``val`` or ``test``; else "".

    ``split_from_path(Path("/d/files/train/a/x.jpg"), Path("/d/files")) == "train"``.
    """
    parts = (root.name, *path.relative_to(root).parts[:-1])
    for part in parts:
        if part.lower() in SPLITS:
            return part.lower()
    return ""


def list_names(names: Iterable[object], limit: int = MAX_LISTED) -> str:
    """``"a, b, c"``, or the first ``limit`` followed by ``"... and N more"``."""
    items = [str(n) for n in names]
    shown = ", ".join(items[:limit])
    if len(items) > limit:
        shown += f", ... and {len(items) - limit} more"
    return shown


def unique_names(paths: list[Path], root: Path) -> list[str]:
    """One name per path: the file stem, or the path relative to ``root`` without its suffix
    (POSIX separators) for the stems that occur more than once."""
    counts = Counter(p.stem for p in paths)
    names = []
    for p in paths:
        if counts[p.stem] == 1:
            names.append(p.stem)
        else:
            try:
                names.append(p.relative_to(root).with_suffix("").as_posix())
            except ValueError:  # outside root (absolute manifest path): the full path is unique
                names.append(p.with_suffix("").as_posix())
    return names


def resolve(path_text: str, base: Path) -> Path:
    """``path_text`` as a path: absolute as given, relative ones against ``base``."""
    p = Path(path_text).expanduser()
    return p if p.is_absolute() else base / p
