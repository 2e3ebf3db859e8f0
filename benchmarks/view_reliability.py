"""The views' reliability figures, measured by ``deal benchmark`` and written into the package's data file.

    python -m deal_benchmarks.view_reliability --entry dev --dataset CocoGlide=../shared/data/dev/CocoGlide \\
        --describe "CoCoGlide dev (256 GLIDE inpaintings)"

runs ``deal benchmark --dataset NAME=DIR --baseline V ...`` (every view under its baseline name, the
centre and predict-everything floors; the bundled detector's own rows come with it), reads its
``benchmark.json`` and stores ``deal.baselines.views.reliability.entry_from_benchmark`` of it as entry
``--entry`` of ``--file`` (default: the package's ``reliability.json``, which the report's and the serve
page's labels read), then prints the entry's table (Markdown). The ``fixture`` entry is this command on the
16-image CoCoGlide test fixture; the test suite re-runs it and compares.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any

from deal.baselines.views import VIEWS
from deal.baselines.views.reliability import MODEL, RELIABILITY_FILE, entry_from_benchmark
from deal.fileio import atomic_write_text

FLOORS = ("centre", "predict-everything")


def benchmark_argv(dataset: str, out: Path, limit: int | None = None) -> list[str]:
    """The ``deal benchmark`` arguments: the dataset, every view's baseline and the floors."""
    argv = ["benchmark", "--dataset", dataset, "--out", str(out)]
    for name in [*(v.baseline for v in VIEWS.values()), *FLOORS]:
        argv += ["--baseline", name]
    return argv + (["--limit", str(limit)] if limit else [])


def measure(dataset: str, describe: str, command: str, limit: int | None = None) -> dict[str, Any]:
    """Run deal benchmark (in this process) and return the file's entry for it."""
    from deal.cli.main import main

    with tempfile.TemporaryDirectory() as tmp:
        code = main(benchmark_argv(dataset, Path(tmp), limit))
        if code != 0:
            raise SystemExit(code)
        report = json.loads((Path(tmp) / "benchmark.json").read_text(encoding="utf-8"))
    return entry_from_benchmark(report, describe, command)


def entry_markdown(entry: dict[str, Any]) -> str:
    """The entry as a Markdown table: one line per predictor."""
    def cell(f: dict[str, float], key: str) -> str:
        lo, hi = f.get(f"{key}_lo"), f.get(f"{key}_hi")
        return f"{f[key]:.3f}" + (f" [{lo:.3f}, {hi:.3f}]" if lo is not None and hi is not None else "")

    lines = [
        f"{entry['dataset']} ({entry['n_images']} images; {entry['hardware']})",
        "",
        "| map | pixel AUC | control | lift | F1@0.5 | CPU s / megapixel |",
        "|---|---|---|---|---|---|",
    ]
    for name, f in entry["figures"].items():
        title = "bundled detector" if name == MODEL else name
        keys = ("pixel_auc", "pixel_auc_control", "pixel_auc_lift", "pixel_f1")
        lines.append(f"| {title} | " + " | ".join(cell(f, k) for k in keys) + f" | {f['cpu_seconds_per_megapixel']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--entry", required=True, help="the entry's name in the file (dev: the labels' entry)")
    p.add_argument("--dataset", required=True, metavar="NAME=DIR", help="as deal benchmark's --dataset")
    p.add_argument("--describe", required=True, help="the dataset in a few words, as the labels print it")
    p.add_argument("--file", type=Path, default=RELIABILITY_FILE, help="the data file (default: the package's)")
    p.add_argument("--limit", type=int, default=None, help="at most N images (deal benchmark --limit)")
    args = p.parse_args(argv)
    command = shlex.join(["python", "-m", "deal_benchmarks.view_reliability", *(argv if argv is not None else sys.argv[1:])])
    entry = measure(args.dataset, args.describe, command, args.limit)
    data = json.loads(args.file.read_text(encoding="utf-8")) if args.file.is_file() else {}
    data.setdefault("about", (
        "Each view's figures on a dataset, measured by deal benchmark (pixel AUC, the objectness control: the "
        "unedited original's map against the same mask, the lift, F1@0.5, with 95% bootstrap intervals over "
        "images; CPU seconds per megapixel). Written by the command of each entry; never edited by hand."
    ))  # fmt: skip
    data.setdefault("entries", {})[args.entry] = entry
    atomic_write_text(args.file, json.dumps(data, indent=1, sort_keys=False) + "\n")
    print(entry_markdown(entry), end="")
    print(f"wrote entry {args.entry!r} of {args.file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
