"""`deal serve`: a local web service and page over `deal detect` (FastAPI and uvicorn: the ``serve`` extra).

Public API (imported lazily, so that ``import deal.serve`` needs neither FastAPI nor uvicorn)::

    from deal.serve import ServeSettings, create_app, serve
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "ServeSettings": "deal.serve.settings",
    "SettingsError": "deal.serve.settings",
    "create_app": "deal.serve.app",
    "serve": "deal.serve.server",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'deal.serve' has no attribute {name!r}")
