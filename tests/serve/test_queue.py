"""The queue limit: a place is reserved before the request's body is read, so it is never overrun."""

from __future__ import annotations

import io
import socket
import threading

import numpy as np
from PIL import Image

from deal.serve import ServeSettings, create_app
from tests.serve.live import HeldJobs, LiveServer, png_bytes, post_job, request, wait_done


def noise_png(h: int, w: int, seed: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def test_concurrent_uploads_never_overrun_the_queue_limit(detector, tmp_path, monkeypatch):
    held = HeldJobs(monkeypatch)
    settings = ServeSettings(data=tmp_path / "data", batch_size=2, workers=0, max_queued=4)
    answers: dict[int, object] = {}

    def upload(i: int) -> None:  # images of noise (about 0.5 MB): each body takes a while to arrive
        try:
            r = post_job(
                server.port, [(f"img{i}.png", noise_png(400, 400, i))], [("report", "none"), ("save", "json")]
            )
        except ConnectionError:  # refused while its body was still being sent, and the connection closed
            answers[i] = ("closed",)
            return
        answers[i] = r.json()["id"] if r.status == 202 else (r.status, r.json()["error"])

    with LiveServer(create_app(settings, detector)) as server:
        threads = [threading.Thread(target=upload, args=(i,)) for i in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        accepted = [a for a in answers.values() if isinstance(a, str)]
        refused = [a for a in answers.values() if not isinstance(a, str)]
        assert len(answers) == 40 and len(accepted) == 4, answers
        assert (503, "4 jobs are waiting already; try again later.") in refused
        assert set(refused) <= {(503, "4 jobs are waiting already; try again later."), ("closed",)}
        assert sorted(p.name for p in (settings.data / "jobs").iterdir()) == sorted(accepted)  # nothing left over
        held.release()
        assert all(wait_done(server.port, job_id)["state"] == "done" for job_id in accepted)
        # The places are free again once the jobs have ended.
        r = post_job(server.port, [("again.png", png_bytes(16, 16, 99))], [("report", "none")])
        assert r.status == 202 and wait_done(server.port, r.json()["id"])["state"] == "done"


def test_a_full_queue_answers_503_before_the_body_is_read(detector, tmp_path, monkeypatch):
    held = HeldJobs(monkeypatch)
    settings = ServeSettings(data=tmp_path / "data", batch_size=2, max_queued=1)
    with LiveServer(create_app(settings, detector)) as server:
        r = post_job(server.port, [("a.png", png_bytes(16, 16, 0))], [("report", "none")])
        assert r.status == 202
        # Headers announcing 50 MB, and only the first bytes of the body: the answer comes without the rest.
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(
                b"POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                b"Content-Length: 50000000\r\n\r\n--b\r\n"
            )
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = sock.recv(4096)
                assert chunk, answer
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 503 ")
        held.release()
        assert wait_done(server.port, r.json()["id"])["state"] == "done"
        assert request(server.port, "GET", "/healthz").status == 200
