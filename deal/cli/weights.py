"""deal weights fetch|list: the official SAM checkpoints. The only command that uses the network."""

from __future__ import annotations

import argparse

HELP = "fetch or list SAM checkpoints (fetch is the only command that uses the network)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="weights_command", metavar="ACTION", required=True)
    f = sub.add_parser("fetch", help="download an official SAM checkpoint (atomic; prints its sha256)")
    f.add_argument("size", choices=["vit_b", "vit_l", "vit_h"])
    f.add_argument("--dir", help="destination folder (default: $DEAL_WEIGHTS_DIR or the project's weights/)")
    f.add_argument("--base-url", help="mirror to download from (default: the official URL)")
    sub.add_parser("list", help="show which checkpoints are present and where they are looked for")


def run(args: argparse.Namespace) -> int:
    import sys

    from deal import hub

    if args.weights_command == "fetch":
        try:
            path, sha = hub.fetch(args.size, args.dir, base_url=args.base_url, progress=sys.stderr.isatty())
        except OSError as err:
            print(f"deal weights fetch: {err}", file=sys.stderr)
            return 1
        print(f"{path}\nsha256 {sha}")
        return 0
    print("looked for in: " + ", ".join(str(d) for d in hub.weights_dirs()))
    for size, name in hub.SAM_CHECKPOINTS.items():
        found = hub.find_weights(name)
        print(f"{size:<6} {name:<24} {found if found else 'missing (deal weights fetch ' + size + ')'}")
    bundled = hub.bundled_detector_path()
    print(f"bundled detector {hub.BUNDLED_DETECTOR}: {bundled if bundled else 'missing'}")
    return 0
