"""verify_run: checks a run folder of `deal detect` against its MANIFEST.sha256, and re-analyses inputs.

Checks, each failure one line naming the file:

1. MANIFEST.sha256 is present and every line is a sha256sum line;
2. every file it lists has that sha256: the run folder's files (missing is a problem) and the inputs
   (absolute paths; an input no longer present is reported as not checked, not as a problem);
3. every file of the run folder is listed (a file added after the run is a problem);
4. results.jsonl agrees with the manifest: each record's outputs are listed, and each input's sha256 is
   the one the manifest holds;
5. with rerun=N: N inputs drawn at random (seeded) are analysed again with run.json's detector and
   options, and their outputs must be byte-identical to the run's (records too, but for `seconds`).
   An input is re-analysed together with the other inputs of its batch window, as the run did, because
   a heatmap depends on its window (deal.inference.streaming).

    from deal.runs import verify_run
    result = verify_run("case-0412", rerun=3)
    print(result.ok, *result.problems, sep="\\n")
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deal.fileio import sha256_file
from deal.inference.detector import Detector
from deal.provenance import ProvenanceOptions
from deal.runs.folder import run_detection
from deal.runs.manifest import MANIFEST_NAME, read_manifest, run_files
from deal.runs.records import RESULTS_JSONL
from deal.runs.run_info import read_run_info

# Record keys that legitimately differ between two analyses of the same input: the time it took, and
# where the outputs went (the rerun writes into a temporary folder).
_VOLATILE = ("seconds", "outputs")


@dataclass
class VerifyResult:
    """problems: one line each (empty: the run verifies). notes: what was not checked, and why; what was
    re-analysed."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files_checked: int = 0
    inputs_checked: int = 0
    reanalysed: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _read_records(run_dir: Path, result: VerifyResult) -> list[dict[str, Any]]:
    path = run_dir / RESULTS_JSONL
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        result.problems.append(f"{path}: cannot be read ({type(err).__name__})")
        return []
    records = []
    for n, line in enumerate(lines, 1):
        try:
            records.append(json.loads(line))
        except ValueError:
            result.problems.append(f"{path} line {n}: not a JSON record")
    return records


def _check_hashes(run_dir: Path, result: VerifyResult) -> dict[str, str]:
    """Checks 1-3; returns {path as listed: sha256}."""
    entries, problems = read_manifest(run_dir / MANIFEST_NAME)
    result.problems += problems
    listed = {}
    for e in entries:
        listed[e.path] = e.sha256
        target = Path(e.path) if e.is_input else run_dir / e.path
        if not target.is_file():
            if e.is_input:
                result.notes.append(f"{e.path}: input not present, not checked")
            else:
                result.problems.append(f"{e.path}: listed in {MANIFEST_NAME} but missing from the run folder")
            continue
        try:
            digest = sha256_file(target)
        except OSError as err:
            result.problems.append(f"{e.path}: cannot be read ({type(err).__name__})")
            continue
        if digest != e.sha256:
            what = "input" if e.is_input else "file"
            result.problems.append(
                f"{e.path}: {what} changed (sha256 {digest[:12]}..., manifest {e.sha256[:12]}...)"
            )
        if e.is_input:
            result.inputs_checked += 1
        else:
            result.files_checked += 1
    if entries or not problems:
        for rel in run_files(run_dir):
            if rel not in listed:
                result.problems.append(f"{rel}: in the run folder but not in {MANIFEST_NAME}")
    return listed


def _check_records(
    records: list[dict[str, Any]], listed: dict[str, str], cwd: str, result: VerifyResult
) -> None:
    """Check 4."""
    for record in records:
        for rel in (record.get("outputs") or {}).values():
            if rel not in listed:
                result.problems.append(
                    f"{rel}: an output of results.jsonl that {MANIFEST_NAME} does not list"
                )
        if record.get("sha256"):
            path = os.path.abspath(os.path.join(cwd, record["path"]))
            if listed.get(path) != record["sha256"]:
                result.problems.append(
                    f"{path}: its sha256 in results.jsonl is not the one {MANIFEST_NAME} lists for it"
                )


def _load_detector(info: dict[str, Any], trust_anchors: str | None):
    """The run's detector, loaded from its file (sha256 checked), with the run's provenance options."""
    det_info, thr, inf, prov = info["detector"], info["thresholds"], info["inference"], info["provenance"]
    if not det_info.get("path"):
        raise ValueError("the run's detector was an in-memory model: nothing to load for a rerun")
    options = ProvenanceOptions(trust_anchors=trust_anchors, enabled=prov["enabled"])
    if options.trust_anchors_sha256 != prov.get("trust_anchors_sha256"):
        raise ValueError(
            "the run used trust anchors: give the same PEM file again (--trust-anchors)"
            if trust_anchors is None
            else "the trust anchors given are not the ones the run used (their sha256 differs)"
        )
    detector = Detector.load(
        det_info["path"],
        inf["device"],
        threshold=thr["pixel"],
        image_thresholds=(thr["image_low"], thr["image_high"]),
        tile=inf["tile"],
        max_pixels=inf["max_pixels"],
        provenance=options,
    )
    if detector.sha256 != det_info["sha256"]:
        raise ValueError(
            f"{det_info['path']}: sha256 {detector.sha256} is not the run's {det_info['sha256']}"
        )
    return detector


def _rerun(
    run_dir: Path,
    info: dict[str, Any],
    records: list[dict[str, Any]],
    n: int,
    seed: int | None,
    trust_anchors: str | None,
    result: VerifyResult,
) -> None:
    """Check 5."""
    import torch

    cwd = info.get("cwd") or os.getcwd()
    done = [i for i, r in enumerate(records) if r.get("error") is None and r.get("sha256")]
    if not done:
        result.notes.append("rerun: no input was analysed successfully, nothing to re-analyse")
        return
    chosen = sorted(random.Random(seed).sample(done, min(n, len(done))))
    try:
        detector = _load_detector(info, trust_anchors)
    except (ValueError, OSError, KeyError) as err:
        result.problems.append(f"rerun: cannot load the run's detector: {err}")
        return
    options = info["options"]
    batch = int(options["batch_size"])
    threads = torch.get_num_threads()
    torch.set_num_threads(int(info["platform"]["torch_threads"]))
    try:
        for index in chosen:
            record = records[index]
            path = os.path.abspath(os.path.join(cwd, record["path"]))
            start = index // batch * batch
            window = [
                os.path.abspath(os.path.join(cwd, r["path"]))
                for r in records[start : start + batch]
                if r.get("error") is None and r.get("sha256")
            ]
            missing = [p for p in window if not os.path.isfile(p)]
            if missing:
                result.problems.append(
                    f"{path}: cannot re-analyse, {missing[0]} (in its batch window) is not present"
                )
                continue
            with tempfile.TemporaryDirectory(prefix="deal-verify-") as tmp:
                summary = run_detection(
                    window, tmp, detector, save=options["save"], batch_size=batch, workers=0, quiet=True
                )
                again = [
                    json.loads(x)
                    for x in Path(summary.results_jsonl).read_text(encoding="utf-8").splitlines()
                ]
                mine = next(
                    (r for r in again if os.path.abspath(r["path"]) == path), None
                )
                _compare(run_dir, Path(tmp), path, record, mine, result)
            result.reanalysed += 1
            result.notes.append(
                f"re-analysed {path} (with {len(window) - 1} other inputs of its batch window)"
            )
    finally:
        torch.set_num_threads(threads)


def _compare(
    run_dir: Path,
    tmp: Path,
    path: str,
    record: dict[str, Any],
    again: dict[str, Any] | None,
    result: VerifyResult,
) -> None:
    if again is None or again.get("error") is not None:
        why = again.get("error") if again else "no record"
        result.problems.append(f"{path}: the rerun failed ({why})")
        return
    for kind, rel in (record.get("outputs") or {}).items():
        if kind == "json":
            continue
        new_rel = (again.get("outputs") or {}).get(kind)
        if new_rel is None:
            result.problems.append(f"{rel}: the rerun wrote no {kind} output")
        elif (run_dir / rel).read_bytes() != (tmp / new_rel).read_bytes():
            result.problems.append(f"{rel}: the rerun's {kind} output is not byte-identical")
    for key in record:
        if key in _VOLATILE or key == "path":
            continue
        if record[key] != again.get(key):
            result.problems.append(f"{path}: the rerun's record differs in {key!r}")


def verify_run(
    run_dir: str | os.PathLike, *, rerun: int = 0, seed: int | None = None, trust_anchors: str | None = None
) -> VerifyResult:
    """Checks a run folder (see the module docstring). rerun: inputs to re-analyse (0: none); seed: of the
    random choice (None: a fresh one each call); trust_anchors: the PEM text the run was given, if any."""
    run_dir = Path(run_dir)
    result = VerifyResult()
    if not run_dir.is_dir():
        result.problems.append(f"{run_dir}: no such folder")
        return result
    info, problem = read_run_info(run_dir)
    if problem:
        result.problems.append(problem)
    listed = _check_hashes(run_dir, result)
    records = _read_records(run_dir, result)
    cwd = (info or {}).get("cwd") or os.getcwd()
    _check_records(records, listed, cwd, result)
    if rerun > 0:
        if info is None:
            result.problems.append("rerun: impossible without a readable run.json")
        elif result.problems:
            result.notes.append("rerun: skipped, the run folder does not verify")
        else:
            _rerun(run_dir, info, records, rerun, seed, trust_anchors, result)
    return result
