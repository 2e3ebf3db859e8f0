"""serve: runs the application on uvicorn until interrupted (the process `deal serve` starts)."""

from __future__ import annotations

import logging
import socket
import sys

from deal.serve.settings import ServeSettings


def serve(
    settings: ServeSettings, *, sockets: list[socket.socket] | None = None, log_level: str = "info"
) -> None:
    """Loads the detector, resumes the jobs under settings.data and serves until SIGINT/SIGTERM.

    sockets: already bound sockets to serve on (tests); None binds settings.host:settings.port.
    """
    import uvicorn

    from deal.serve.app import create_app

    logging.basicConfig(level=getattr(logging, log_level.upper(), logging.INFO), format="%(message)s")
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        server_header=False,
        proxy_headers=False,  # the client's address as seen here; a proxy's headers are not trusted
    )
    server = uvicorn.Server(config)
    if sockets is None:
        print(f"deal serve: {settings.url} (jobs in {settings.data})", file=sys.stderr, flush=True)
    server.run(sockets=sockets)
