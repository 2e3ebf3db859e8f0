"""serve: runs the application on uvicorn until interrupted (the process `deal serve` starts)."""

from __future__ import annotations

import logging
import socket
import sys

from deal.serve.settings import ServeSettings


def serve(
    settings: ServeSettings, *, sockets: list[socket.socket] | None = None, log_level: str = "info"
) -> None:
    """Takes the data folder, loads the detector, resumes the jobs under settings.data and serves until
    SIGINT/SIGTERM.

    sockets: already bound sockets to serve on (tests); None binds settings.host:settings.port.

    Raises:
        SettingsError: another deal serve uses the data folder (before anything heavy is imported).
        OSError: the port cannot be bound.
    """
    from deal.serve.data_lock import DataFolderLock

    lock = DataFolderLock(settings.data)  # first: a second server on this folder refuses at once
    try:
        announce = sockets is None
        if sockets is None:  # bound before the detector loads, so that a port in use fails at once
            sockets = [bind(settings.host, settings.port)]
        import uvicorn

        from deal.serve.app import create_app

        logging.basicConfig(level=getattr(logging, log_level.upper(), logging.INFO), format="%(message)s")
        app = create_app(settings, lock=lock)
    except BaseException:
        lock.close()
        raise
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        server_header=False,
        proxy_headers=False,  # the client's address as seen here; a proxy's headers are not trusted
    )
    server = uvicorn.Server(config)
    if announce:
        print(f"deal serve: {settings.url} (jobs in {settings.data})", file=sys.stderr, flush=True)
    server.run(sockets=sockets)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port. Raises OSError with one sentence (e.g. the port is in use)."""
    name = host.strip("[]")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as err:
        raise OSError(f"cannot listen on {host} port {port}: {err.strerror or err}") from None
    sock.set_inheritable(True)
    return sock
