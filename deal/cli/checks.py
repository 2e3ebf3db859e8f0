"""Usage checks every subcommand runs before it imports torch or loads a detector.

A usage error (a bad option value, an input or dataset that is not there, an output that cannot be
written) is one sentence and exit code 2, answered in well under a second and before anything is
written. This module and what it imports stay light: no torch, no Lightning, no detector (a test
runs each subcommand's usage errors in a subprocess and checks that torch was never imported).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from deal.cli.output_checks import check_output_dir, check_output_file
from deal.errors import UsageError

__all__ = [
    "check_at_least",
    "check_datasets",
    "check_detect_inputs",
    "check_detector_file",
    "check_existing_file",
    "check_output_dir",
    "check_output_file",
    "check_run_folder",
    "check_unit_interval",
]


def check_unit_interval(value: float | None, option: str, *, open_low: bool = False) -> None:
    """``value`` in [0, 1] (or (0, 1] with ``open_low``); None passes (the option was not given)."""
    if value is None:
        return
    low_ok = value > 0.0 if open_low else value >= 0.0
    if not (low_ok and value <= 1.0):
        interval = "(0, 1]" if open_low else "[0, 1]"
        raise UsageError(f"{option} must be in {interval}, got {value}")


def check_at_least(value: int | float | None, minimum: int, option: str) -> None:
    """``value >= minimum``; None passes."""
    if value is not None and value < minimum:
        raise UsageError(f"{option} must be at least {minimum}, got {value}")


def check_existing_file(path: str | os.PathLike, what: str) -> Path:
    """``path`` is a readable file; ``what`` names it in the sentence ("checkpoint", "--inputs-from")."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{what} {path}: is a folder, expected a file")
    if not path.is_file():
        raise UsageError(f"{what} not found: {path}")
    if not os.access(path, os.R_OK):
        raise UsageError(f"{what} {path}: cannot read this file (permission denied)")
    return path


def check_detector_file(path: str | os.PathLike | None) -> None:
    """A ``--detector`` FILE that exists and is a deal detector file by its safetensors header (None: the
    bundled detector, found by deal.hub)."""
    from deal.modeling.detector_format import detector_file_problem

    if path is not None:
        problem = detector_file_problem(check_existing_file(path, "detector file"))
        if problem:
            raise UsageError(f"detector file {path}: {problem}")


def check_datasets(specs: Sequence[str], split: str | None = None, option: str = "--dataset") -> dict:
    """``NAME=PATH`` arguments -> ``{name: records}``, read without torch (deal.data.discover).

    Raises:
        UsageError: a malformed spec, a path that does not exist, a folder that holds no dataset
            deal understands, or no record of ``split``.
    """
    from deal.data.errors import DatasetError
    from deal.evaluation.datasets import load_datasets, parse_dataset_specs

    try:
        datasets = parse_dataset_specs(specs)
    except ValueError as err:
        raise UsageError(str(err)) from err
    for name, path in datasets.items():
        if not path.exists():
            raise UsageError(f"{option} {name}={path}: no such file or folder")
    try:
        return load_datasets(datasets, split)
    except DatasetError as err:
        raise UsageError(str(err)) from err


def check_detect_inputs(inputs: Sequence[str], inputs_from: str | None, out: str | os.PathLike) -> None:
    """At least one input to read: the list file exists and lists something, and the arguments match
    at least one image or existing file.

    The inputs are listed again by the run itself (deal.runs.discovery is the one definition of
    what an argument matches): listing is a directory walk, negligible next to analysing the images.
    """
    from deal.runs.discovery import NoInputsError, find_inputs, read_input_list

    args = [os.fspath(a) for a in inputs]
    try:
        if inputs_from is not None:
            args += read_input_list(inputs_from)  # its own sentence for a list that is missing or empty
        found, _, _ = find_inputs(args, out_dir=out)
    except NoInputsError as err:
        raise UsageError(str(err)) from err
    if not any(os.path.lexists(item.path) for item in found):
        missing = "; ".join(f"{item.path}: no such file or folder" for item in found[:3])
        more = f" (and {len(found) - 3} more)" if len(found) > 3 else ""
        raise UsageError(f"no images to process: {missing}{more}")


def check_run_folder(path: str | os.PathLike) -> Path:
    """A RUN_DIR of ``deal verify``: a folder holding what a run of ``deal detect`` writes (its manifest,
    run.json or results.jsonl; a run that lost some of them is verify's to report, not a usage error)."""
    from deal.runs.manifest import MANIFEST_NAME
    from deal.runs.records import RESULTS_JSONL
    from deal.runs.run_info import RUN_JSON

    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no such folder")
    if not path.is_dir():
        raise UsageError(f"{path}: is a file, not a run folder of deal detect")
    markers = (MANIFEST_NAME, RUN_JSON, RESULTS_JSONL)
    if not any((path / name).is_file() for name in markers):
        raise UsageError(f"{path}: not a run folder of deal detect (it holds no {', '.join(markers)})")
    return path
