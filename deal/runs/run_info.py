"""run.json: everything needed to reproduce and to judge a run (deal's version, the detector's name and
sha256, every option, the thresholds and the verdict rule, the platform, torch's version and threads, the
case, examiner and note), and run_times.json: when it started and ended.

run.json holds no times, so that a rerun of the same command writes the same run.json; the times live in
run_times.json, which the manifest leaves out.
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deal.inference.detector import Detector

RUN_JSON = "run.json"
RUN_TIMES_JSON = "run_times.json"
FORMAT = 1  # run.json's layout version


@dataclass(frozen=True)
class CaseInfo:
    """Who ran the analysis, for which case: recorded in run.json and shown in the report."""

    case_id: str | None = None
    examiner: str | None = None
    note: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)

    def settings(self) -> dict[str, str]:
        """The ones given, as the report's settings show them (name -> value)."""
        shown = {"case": self.case_id, "examiner": self.examiner, "note": self.note}
        return {k: str(v) for k, v in shown.items() if v}


def _package_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def run_info(det: Detector, case: CaseInfo, options: dict[str, Any]) -> dict[str, Any]:
    """The content of run.json for a run of `det` on `case` with `options`."""
    import torch

    from deal.metrics.image_score import VERDICT_RULE
    from deal.version import __version__

    info = det.info
    return {
        "format": FORMAT,
        "deal_version": __version__,
        "case": case.as_dict(),
        "detector": {
            "name": det.name,
            "sha256": det.sha256,
            "path": os.path.abspath(info.path) if info.path else None,
            "base_checkpoint": info.base_checkpoint,
            "base_sha256": info.base_sha256,
            "model": {
                "encoder": det.config.encoder,
                "input_policy": det.config.input_policy,
                "image_size": det.config.image_size,
            },
        },
        "thresholds": {
            "pixel": det.threshold,
            "image_low": det.image_thresholds[0],
            "image_high": det.image_thresholds[1],
            "verdict_rule": VERDICT_RULE,
        },
        "inference": {
            "device": det.device.type,
            "precision": det.precision,
            "tile": det.tile,
            "tile_overlap": det.overlap,
            "max_pixels": det.max_pixels,
        },
        "provenance": {
            "enabled": det.provenance.enabled,
            "trust_anchors_sha256": det.provenance.trust_anchors_sha256,
            "c2pa_python": _package_version("c2pa-python"),
        },
        "options": options,
        "cwd": os.getcwd(),
        "platform": {
            "system": platform.system(),
            "release": platform.release(),
            "machine": platform.machine(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            "numpy": _package_version("numpy"),
            "pillow": _package_version("pillow"),
            "executable": sys.executable,
        },
    }


def now_utc() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def read_run_info(run_dir: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(run.json's content, None) or (None, a problem naming the file)."""
    import json

    path = run_dir / RUN_JSON
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, f"{path}: missing"
    except (OSError, ValueError) as err:
        return None, f"{path}: cannot be read ({type(err).__name__}: {err})"
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        return None, f"{path}: not a run.json of this deal version (format {FORMAT})"
    return info, None
