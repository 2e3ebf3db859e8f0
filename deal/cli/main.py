"""The ``deal`` console command: a thin dispatcher over the public Python API.

Each subcommand lives in its own module of :mod:`deal.cli` and exposes ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. Subcommand modules import nothing heavy at
module level, so ``deal --help`` stays instant; the work happens inside ``run``.

Exit codes (all subcommands): 0 success, 1 the job ran but some inputs failed (or, for
``deal data doctor``, problems were found), 2 usage error.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from deal.errors import UsageError

__all__ = ["UsageError", "build_parser", "main"]

# (command name, module under deal.cli). The order is the order shown by --help.
COMMANDS: list[tuple[str, str]] = [
    ("demo", "demo"),
    ("detect", "detect"),
    ("evaluate", "evaluate"),
    ("benchmark", "benchmark"),
    ("benchmark-speed", "benchmark_speed"),
    ("train", "train"),
    ("verify", "verify"),
    ("export", "export"),
    ("model-info", "model_info"),
    ("weights", "weights"),
    ("serve", "serve"),
    ("data", "data"),
]


class _Parser(argparse.ArgumentParser):
    """argparse with its usage errors as one sentence (exit 2), naming where the help is."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from deal.version import __version__

    parser = _Parser(
        prog="deal",
        description="Localize the regions of an image edited by a diffusion model.",
        epilog="Exit codes: 0 success, 1 some inputs failed (or problems found), 2 usage error.",
    )
    parser.add_argument("--version", action="version", version=f"deal {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS:
        module = importlib.import_module(f"deal.cli.{module_name}")
        p = sub.add_parser(
            name,
            help=module.HELP,
            description=getattr(module, "DESCRIPTION", module.HELP),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else list(argv)
    if args_list[:1] == ["train"]:
        # LightningCLI parses its own arguments (--config, overrides, --print_config). sys.argv is left
        # untouched: Lightning's DDP launcher re-runs this very command line (`deal train ...` or
        # `python -m deal.cli.main train ...`) in each child process.
        from deal.cli.train import run_train

        return run_train(args_list[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except UsageError as err:
        print(f"deal {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
