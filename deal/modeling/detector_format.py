"""Which files are deal detector files, told without torch: a safetensors file (an 8-byte header length,
then a JSON header) whose metadata names a format this deal reads. The command line checks a --detector
FILE with it before loading torch; deal.modeling.detector_file reads and writes the whole file.
"""

from __future__ import annotations

import os

FORMAT = "deal-detector/2"  # the format deal writes
FORMAT_1 = "deal-detector/1"  # the verdict's settings in `extra`: read through upgrade_metadata
READABLE_FORMATS = (FORMAT_1, FORMAT)


def detector_file_problem(path: str | os.PathLike) -> str | None:
    """None when `path` is a safetensors file whose metadata holds a format in READABLE_FORMATS; else
    what it is instead, as the end of a sentence ("not a deal detector file (...)")."""
    from safetensors import SafetensorError, safe_open  # its header parser: no torch needed

    try:
        with safe_open(os.fspath(path), framework="numpy") as f:
            meta = f.metadata() or {}
    except SafetensorError:
        return "not a deal detector file (not a safetensors file)"
    version = meta.get("format")
    if version is None:
        return "not a deal detector file (a safetensors file without deal's metadata)"
    if version not in READABLE_FORMATS:
        return (
            f"not a deal detector file of a format this deal reads (format {version!r}; it reads "
            f"{', '.join(READABLE_FORMATS)})"
        )
    return None
