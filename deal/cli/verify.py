"""`deal verify`: check a run folder of deal detect against its manifest; optionally re-analyse inputs."""

from __future__ import annotations

import argparse

HELP = "check a deal detect run folder: every output and input against MANIFEST.sha256, and reruns"

DESCRIPTION = """\
Check that a run folder of `deal detect` is what the tool produced.

Re-hashes every file listed in RUN_DIR/MANIFEST.sha256 (the run's outputs, and its inputs where they
are still present), reports files added to the folder after the run, and checks results.jsonl against
the manifest. With --rerun N, re-analyses N inputs drawn at random with the detector and options that
run.json records (the detector file must be where it was, with the same sha256) and checks that the
outputs are byte-identical (same device kind; records compared but for `seconds`).

Prints one line per problem, then a summary. Exit codes: 0 everything holds, 1 a problem was found,
2 usage error.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="the --out folder of a deal detect run")
    parser.add_argument(
        "--rerun", type=int, default=0, metavar="N", help="re-analyse N inputs drawn at random (default: 0)"
    )
    parser.add_argument(
        "--seed", type=int, metavar="S", help="seed of the random draw (default: a fresh one)"
    )
    parser.add_argument(
        "--trust-anchors", metavar="PEM", help="the --trust-anchors file the run used (for --rerun)"
    )
    parser.add_argument(
        "--manifest-sha256",
        metavar="HEX",
        help="the sha256 of MANIFEST.sha256 noted when the run ended: checked too",
    )


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from deal.cli import checks
    from deal.errors import UsageError
    from deal.provenance import ProvenanceOptions

    # Usage checks first, torch-free: one sentence and exit 2 at once.
    checks.check_run_folder(args.run_dir)
    checks.check_at_least(args.rerun, 0, "--rerun")
    try:
        anchors = ProvenanceOptions.from_pem_file(args.trust_anchors).trust_anchors
    except ValueError as err:
        raise UsageError(f"--trust-anchors: {err}") from err

    from deal.fileio import sha256_file
    from deal.runs import MANIFEST_NAME, verify_run

    result = verify_run(args.run_dir, rerun=args.rerun, seed=args.seed, trust_anchors=anchors)
    manifest = Path(args.run_dir) / MANIFEST_NAME
    if args.manifest_sha256 and manifest.is_file():
        if sha256_file(manifest) != args.manifest_sha256.lower():
            result.problems.append(f"{MANIFEST_NAME}: its sha256 is not the one given (--manifest-sha256)")
    for line in result.notes:
        print(f"note: {line}", file=sys.stderr)
    for line in result.problems:
        print(line)
    n = len(result.problems)
    verdict = "OK" if result.ok else f"FAILED ({n} problem{'s' if n != 1 else ''})"
    print(
        f"deal verify {args.run_dir}: {verdict}; {result.files_checked} files and {result.inputs_checked} "
        f"inputs checked, {result.reanalysed} inputs re-analysed",
        file=sys.stderr,
    )
    return 0 if result.ok else 1
