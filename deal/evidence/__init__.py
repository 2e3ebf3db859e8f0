"""A verifiable evidence run: what a run of `deal detect` records about itself (run.json), the sha256 of
every input and output (MANIFEST.sha256, `sha256sum -c` format), and `verify_run`, which checks a run
folder against them and can re-analyse inputs to confirm byte-identical outputs.

    from deal.evidence import verify_run
    result = verify_run("case-0412", rerun=3)
    print(result.ok, *result.problems, sep="\\n")
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "CaseInfo": "deal.evidence.run_info",
    "MANIFEST_NAME": "deal.evidence.manifest",
    "RUN_JSON": "deal.evidence.run_info",
    "RUN_TIMES_JSON": "deal.evidence.run_info",
    "VerifyResult": "deal.evidence.verify",
    "verify_run": "deal.evidence.verify",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'deal.evidence' has no attribute {name!r}")
