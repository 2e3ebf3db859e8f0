"""`deal serve`: a local web service and page whose jobs are `deal detect` runs."""

from __future__ import annotations

import argparse
import os

from deal.cli.run_options import add_device_and_batch_size
from deal.imageio import DEFAULT_MAX_PIXELS
from deal.serve.retention import DEFAULT_KEEP_DAYS, DEFAULT_KEEP_GB

# What installs the serve extra from a clone of the repository (the package is not on an index).
INSTALL_HINT = 'pip install -e ".[serve]"'
HELP = f"serve a page and an HTTP API whose jobs are deal detect runs (needs the serve extra: {INSTALL_HINT})"

DESCRIPTION = f"""\
Serve a web page (drop images, watch progress, open each image's view) and an HTTP API
(POST /v1/jobs, GET and DELETE /v1/jobs/ID, GET /v1/jobs/ID/results, GET /v1/detector, GET /healthz;
the OpenAPI page at /docs). Each job is a `deal detect` run in a folder under --data, with the same
outputs, records and report; one detector is loaded and jobs run one at a time. A server that is
stopped or killed resumes its unfinished jobs when it starts again on the same --data. Ended jobs
are deleted --keep-days after they ended, and the oldest first while all jobs hold more than --keep-gb.

Safe by default: it listens on 127.0.0.1 only; any other --host needs --token (or $DEAL_SERVE_TOKEN),
which every /v1 request must then carry as "Authorization: Bearer TOKEN". Uploads are bounded in
bytes, count and pixels; server-side paths are accepted only under --allow-root folders, named
ROOT/relative/path where ROOT is the folder's name. No CORS unless --cors-origin is given, and
state-changing requests from another site's page are refused unless their origin is given so.

Needs the serve extra; from a clone of the repository: {INSTALL_HINT}
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default: 8765)")
    parser.add_argument(
        "--data", default="deal-serve", metavar="DIR", help="folder of the jobs (default: ./deal-serve)"
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("DEAL_SERVE_TOKEN"),
        metavar="TOKEN",
        help="bearer token required on /v1 (default: $DEAL_SERVE_TOKEN; needed for a non-loopback --host)",
    )
    parser.add_argument("--detector", metavar="FILE", help="detector file (default: the bundled one)")
    parser.add_argument(
        "--allow-root",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder whose images jobs may name by path (repeatable; default: uploads only)",
    )
    parser.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="allow this browser origin (repeatable)",
    )
    add_device_and_batch_size(parser)
    parser.add_argument(
        "--workers", type=int, default=None, metavar="N", help="decoding threads (default: min(4, CPU count))"
    )
    parser.add_argument("--engine", default="local", choices=("local", "ray"), help="as in deal detect")
    parser.add_argument("--address", metavar="ADDR", help="ray engine: the cluster, as in deal detect")
    parser.add_argument(
        "--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, metavar="N",
        help=f"refuse images over N pixels (default: {DEFAULT_MAX_PIXELS})",
    )
    parser.add_argument(
        "--max-file-mb", type=float, default=64, metavar="MB", help="largest upload (default: 64)"
    )
    parser.add_argument(
        "--max-request-mb", type=float, default=1024, metavar="MB", help="largest request (default: 1024)"
    )
    parser.add_argument(
        "--max-files", type=int, default=500, metavar="N", help="files per job (default: 500)"
    )
    parser.add_argument(
        "--max-queued",
        type=int,
        default=100,
        metavar="N",
        help="jobs waiting or running at once (default: 100)",
    )
    parser.add_argument(
        "--keep-days", type=float, default=DEFAULT_KEEP_DAYS, metavar="D",
        help=f"delete ended jobs D days after they ended (default: {DEFAULT_KEEP_DAYS:g})",
    )
    parser.add_argument(
        "--keep-gb", type=float, default=DEFAULT_KEEP_GB, metavar="GB",
        help=f"delete the oldest ended jobs while all jobs hold more than GB GiB (default: {DEFAULT_KEEP_GB:g})",
    )
    parser.add_argument(
        "--tile",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="as in deal detect (default: tile)",
    )


def run(args: argparse.Namespace) -> int:
    import importlib.util

    from deal.cli.main import UsageError

    missing = [m for m in ("fastapi", "uvicorn", "multipart") if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(f"deal serve needs FastAPI and uvicorn (the serve extra); from a clone: {INSTALL_HINT}")
    from deal.serve import ServeSettings, SettingsError, serve

    try:
        settings = ServeSettings(
            data=args.data,
            host=args.host,
            port=args.port,
            token=args.token or None,
            allow_roots=args.allow_root,
            cors_origins=args.cors_origin,
            detector=args.detector,
            device=args.device,
            tile=args.tile,
            max_pixels=args.max_pixels,
            batch_size=args.batch_size,
            engine=args.engine,
            address=args.address,
            max_file_bytes=int(args.max_file_mb * 2**20),
            max_request_bytes=int(args.max_request_mb * 2**20),
            max_files=args.max_files,
            max_queued=args.max_queued,
            keep_days=args.keep_days,
            keep_bytes=int(args.keep_gb * 2**30),
            **({"workers": args.workers} if args.workers is not None else {}),
        )
        serve(settings)
    except (SettingsError, ValueError, OSError) as err:  # bad setting, no detector file, port in use
        raise UsageError(str(err)) from err
    return 0
