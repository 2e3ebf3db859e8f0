"""A real uvicorn server on a loopback port (in a thread of the test process) and a stdlib HTTP client."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import uvicorn

from deal.cli.main import main


class LiveServer:
    """Serves `app` on 127.0.0.1 (a free port) until the with block ends."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __enter__(self) -> LiveServer:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(self.app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started and time.monotonic() < deadline and self.thread.is_alive():
            time.sleep(0.02)
        assert self.server.started, "the server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error(self) -> str:
        return self.json()["error"]


def request(
    port: int, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> Response:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    finally:
        conn.close()


def multipart(
    files: Iterable[tuple[str, bytes]] = (), fields: Iterable[tuple[str, str]] = ()
) -> tuple[bytes, dict[str, str]]:
    """A multipart/form-data body: files as ("files", name, bytes) parts, then the fields."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, data in files:
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{quoted}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
    for key, value in fields:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode()
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def post_job(port: int, files=(), fields=(), headers: dict[str, str] | None = None) -> Response:
    body, h = multipart(files, fields)
    return request(port, "POST", "/v1/jobs", body, {**h, **(headers or {})})


def wait_done(port: int, job_id: str, timeout: float = 120, headers: dict[str, str] | None = None) -> dict:
    """Polls the job (a bounded loop) until it is done or failed; returns its last status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = request(port, "GET", f"/v1/jobs/{job_id}", headers=headers).json()
        if status["state"] in ("done", "failed"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {status}")


def png_bytes(h: int, w: int, seed: int, fmt: str = "PNG") -> bytes:
    import io

    from PIL import Image

    from tests.inference.conftest import smooth_image

    buf = io.BytesIO()
    Image.fromarray(smooth_image(h, w, seed)).save(buf, format=fmt)
    return buf.getvalue()


def detect_records(inputs: list[str], out: Path, detector_file: Path, *extra: str) -> list[dict]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main(
            [
                "detect",
                *inputs,
                "--out",
                str(out),
                "--detector",
                str(detector_file),
                "--device",
                "cpu",
                "--batch-size",
                "2",
                "--quiet",
                *extra,
            ]
        )
    assert rc == 0, err.getvalue()
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def without_seconds(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in records]


class HeldJobs:
    """Holds every job the worker starts until release() (a bounded wait): jobs stay queued or running."""

    def __init__(self, monkeypatch) -> None:
        import deal.serve.worker

        self.event = threading.Event()
        self.started = threading.Event()
        real = deal.serve.worker.run_job

        def held(*args, **kwargs):
            self.started.set()
            assert self.event.wait(60), "the test never released its held jobs"
            return real(*args, **kwargs)

        monkeypatch.setattr(deal.serve.worker, "run_job", held)

    def release(self) -> None:
        self.event.set()


def wait_until(condition, timeout: float = 60) -> None:
    """Polls `condition` (a bounded loop) until it is true."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "never true"
        time.sleep(0.02)
