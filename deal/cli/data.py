"""``deal data``: dataset tools (prepare, doctor, synth, pairs), each a thin wrapper over data_tools."""

from __future__ import annotations

import argparse
import importlib
import sys

HELP = "dataset tools: prepare a downloaded dataset, check one, synthesize or pair samples"
DESCRIPTION = """Dataset tools.

  deal data prepare deal300k --src DIR_OR_ZIPS --out DIR [--instructions DIR]
  deal data prepare cocoglide --src CocoGlide.zip|DIR --out DIR
  deal data doctor DIR|manifest.csv [--json FILE]
  deal data synth ...
  deal data pairs ...

Exit codes: 0 ok, 1 problems found (or some inputs failed), 2 usage error."""

# (sub-subcommand, module under data_tools, one-line help)
TOOLS: list[tuple[str, str, str]] = [
    ("prepare", "prepare", "extract and index DEAL-300K or CoCoGlide into DIR/manifest.csv"),
    ("doctor", "doctor", "check a dataset: unreadable files, bad masks, duplicates, split leakage"),
    ("synth", "synth", "synthesize edited samples"),
    ("pairs", "pairs", "build edited/original pairs"),
]


def _unavailable(name: str, reason: str):
    def run(args: argparse.Namespace) -> int:
        print(f"deal data {name}: not available: {reason}", file=sys.stderr)
        return 2

    return run


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="TOOL")
    for name, module_name, help_text in TOOLS:
        # Imported here, not at module level; a tool whose module is not written yet still gets a
        # subcommand that says so, and the other tools keep working.
        try:
            module = importlib.import_module(f"deal_data_tools.{module_name}")
            add, run = module.add_arguments, module.run
        except ModuleNotFoundError as err:
            if err.name != f"deal_data_tools.{module_name}":
                raise
            p = sub.add_parser(name, help=f"{help_text} (not available)")
            p.set_defaults(_data_run=_unavailable(name, f"data_tools/{module_name}.py is missing"))
            continue
        except AttributeError as err:
            p = sub.add_parser(name, help=f"{help_text} (not available)")
            p.set_defaults(_data_run=_unavailable(name, str(err)))
            continue
        p = sub.add_parser(
            name,
            help=getattr(module, "HELP", help_text),
            description=(module.__doc__ or help_text).strip(),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        add(p)
        p.set_defaults(_data_run=run)
    parser.set_defaults(_data_parser=parser)


def run(args: argparse.Namespace) -> int:
    tool = getattr(args, "_data_run", None)
    if tool is None:
        args._data_parser.print_help()
        return 2
    return int(tool(args) or 0)
