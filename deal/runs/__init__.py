"""Folder jobs: a Detector over files, folders and globs, resumable, on the local or the Ray engine.

Public API (imported lazily, so importing a submodule stays light)::

    from deal.runs import run_detection, RunSummary, NoInputsError, RunLockedError
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "run_detection": "deal.runs.folder",
    "RunSummary": "deal.runs.run",
    "NoInputsError": "deal.runs.discovery",
    "RunLockedError": "deal.runs.lock",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'deal.runs' has no attribute {name!r}")
