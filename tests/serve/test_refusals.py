"""What the server refuses: each refusal is the right status and one sentence, and the server goes on."""

from __future__ import annotations

import contextlib
import http.client
import io
import os
import re
import struct
import zlib
from pathlib import Path

import pytest

from deal.cli.main import main
from deal.serve import ServeSettings, SettingsError, create_app
from tests.serve.live import LiveServer, multipart, png_bytes, post_job, request, wait_done

TOKEN = "a-long-enough-test-token"


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares width x height pixels but holds almost no data (a decompression bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def one_sentence(r) -> str:
    assert r.headers["content-type"] == "application/json", r.body
    message = r.error
    assert "Traceback" not in message and "\n" not in message and message.endswith(".")
    assert len(re.findall(r"\.\s+[A-Z]", message)) == 0, message  # no second sentence
    return message


@pytest.fixture
def server(detector, tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "ok.png").write_bytes(png_bytes(16, 16, 0))
    outside = tmp_path / "secret.png"
    outside.write_bytes(png_bytes(16, 16, 1))
    (root / "sub" / "link.png").symlink_to(outside)
    (root / "escape").symlink_to(tmp_path, target_is_directory=True)
    settings = ServeSettings(
        data=tmp_path / "data",
        batch_size=2,
        max_file_bytes=20_000,
        max_files=4,
        max_request_bytes=200_000,
        allow_roots=[root],
    )
    with LiveServer(create_app(settings, detector)) as live:
        yield live, settings


def test_bad_uploads_each_get_a_status_and_one_sentence(server, tmp_path):
    live, settings = server
    port = live.port
    good = png_bytes(16, 16, 3)
    cases = [
        ([("empty.png", b"")], [], 422, "empty.png: empty file"),
        ([("notes.png", b"just some text, not an image")], [], 422, "notes.png: not an image"),
        ([("big.png", os.urandom(30_000))], [], 413, "over the limit of 20,000 bytes per file"),
        ([(f"x{i}.png", good) for i in range(5)], [], 413, "over the limit of 4 files per job"),
        ([("bomb.png", png_header(40_000, 40_000))], [], 413, "decompression bomb"),
        ([("bomb2.png", png_header(12_000, 9_000))], [], 413, "decompression bomb"),
        ([], [], 422, "give at least one file or path"),
        ([], [("threshold", "2")], 422, "threshold must be in [0, 1]"),
        ([("a.png", good)], [("save", "heatmap,pdf")], 422, "save:"),
        ([("a.png", good)], [("image_thresholds", "0.9,0.1")], 422, "image_thresholds takes LO,HI"),
        ([("a.png", good)], [("views", "ela,sift")], 422, "views: unknown view 'sift'; choose from ela, noise"),
        ([("a.png", good)], [("paths", "root/sub/ok.png")], 422, "either files or paths"),
        ([], [("paths", "../root/sub/ok.png")], 403, "climbs out"),
        ([], [("paths", "root/../../secret.png")], 403, "climbs out"),
        ([], [("paths", "/etc/hostname")], 403, "is absolute"),
        ([], [("paths", "elsewhere/x.png")], 403, "not under an allowed root"),
        ([], [("paths", "root/sub/link.png")], 403, "resolves outside the allowed roots"),
        ([], [("paths", "root/escape/*.png")], 403, "resolves outside the allowed roots"),
        ([], [("paths", "root/nothing/*.png")], 422, "no images match"),
    ]
    jobs_before = sorted((settings.data / "jobs").iterdir())
    for files, fields, status, words in cases:
        r = post_job(port, files, fields)
        assert r.status == status, (words, r.status, r.body)
        assert words in one_sentence(r), (words, r.error)
    assert sorted((settings.data / "jobs").iterdir()) == jobs_before  # no job, no folder left behind

    # The whole request over the limit: by its Content-Length, and streamed (chunked, no Content-Length).
    body, headers = multipart([("a.png", os.urandom(250_000))])
    r = request(port, "POST", "/v1/jobs", body, headers)
    assert r.status == 413 and "over the limit of 200,000 bytes" in one_sentence(r)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request(
        "POST",
        "/v1/jobs",
        body=iter([body[i : i + 8192] for i in range(0, len(body), 8192)]),
        headers=headers,
        encode_chunked=True,
    )
    chunked = conn.getresponse()
    assert chunked.status == 413 and b"over the limit of 200,000 bytes" in chunked.read()
    conn.close()

    # Hostile file names are reduced to safe names inside the job's inputs folder.
    hostile = [
        "../../evil.png",
        "/etc/passwd.png",
        "..\\..\\win.png",
        ".hidden.png",
        'a b<script>"x".png',
        "nul\x01ctl.png",
        "ünïcødé.png",
    ]
    r = post_job(port, [(name, png_bytes(16, 16, i)) for i, name in enumerate(hostile)][:4])
    assert r.status == 202, r.body
    r2 = post_job(port, [(name, png_bytes(16, 16, i)) for i, name in enumerate(hostile)][4:])
    assert r2.status == 202, r2.body
    stored = [f["stored"] for f in r.json()["files"] + r2.json()["files"]]
    assert stored == [
        "evil.png",
        "passwd.png",
        "win.png",
        "hidden.png",
        "a_b_script_x.png",
        "nul_ctl.png",
        "ünïcødé.png",
    ]
    for job in (r.json(), r2.json()):
        inputs = settings.data / "jobs" / job["id"] / "inputs"
        assert sorted(p.name for p in inputs.iterdir()) == sorted(f["stored"] for f in job["files"])
        assert wait_done(port, job["id"])["state"] == "done"
    assert not (tmp_path / "evil.png").exists() and not (settings.data / "evil.png").exists()

    # Files of a job: nothing outside its run folder, by '..', an absolute path or a symlink.
    job = r.json()["id"]
    out = settings.data / "jobs" / job / "out"
    (out / "leak.txt").symlink_to(tmp_path / "secret.png")
    for path, status in [
        ("../job.json", 403),
        ("%2e%2e/%2e%2e/%2e%2e/secret.png", 403),
        ("sub/../../job.json", 403),
        ("/etc/hostname", 403),
        ("leak.txt", 403),
        ("nothing-here.png", 404),
    ]:
        got = request(port, "GET", f"/v1/jobs/{job}/files/{path}")
        assert got.status == status, (path, got.status, got.body)
        one_sentence(got)
    assert request(port, "GET", f"/v1/jobs/{job}/files/evil.png.heatmap.png").status == 200

    # Unknown and malformed job ids.
    for job_id in ("0" * 32, "nope", "..%2F..%2Fetc"):
        got = request(port, "GET", f"/v1/jobs/{job_id}")
        assert got.status == 404 and one_sentence(got).startswith(("no job", "no such page"))
        assert request(port, "GET", f"/v1/jobs/{job_id}/results").status == 404
    assert request(port, "GET", "/no/such/page").status == 404

    # After all of that, the server still serves, and a good upload completes.
    assert request(port, "GET", "/healthz").status == 200
    ok = post_job(port, [("fine.png", good)])
    assert ok.status == 202 and wait_done(port, ok.json()["id"])["state"] == "done"


def test_a_non_loopback_bind_needs_a_token(detector, tmp_path):
    with pytest.raises(SettingsError, match="without --token"):
        ServeSettings(data=tmp_path, host="0.0.0.0")
    with pytest.raises(SettingsError, match="without --token"):
        ServeSettings(data=tmp_path, host="example.org")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["serve", "--host", "0.0.0.0", "--data", str(tmp_path)]) == 2
    assert err.getvalue().count("\n") == 1 and "refusing to listen on 0.0.0.0" in err.getvalue()
    for loopback in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        ServeSettings(data=tmp_path, host=loopback)

    # The app configured as for a non-loopback bind (with its token), served here on 127.0.0.1.
    settings = ServeSettings(data=tmp_path / "data", host="0.0.0.0", token=TOKEN, batch_size=2)
    with LiveServer(create_app(settings, detector)) as live:
        port = live.port
        for headers, words in [
            ({}, "needs a bearer token"),
            ({"Authorization": "Bearer wrong-token-of-some-length"}, "token is wrong"),
            ({"Authorization": f"Bearer {TOKEN}x"}, "token is wrong"),
            ({"Authorization": f"Basic {TOKEN}"}, "token is wrong"),
        ]:
            for path in ("/v1/detector", f"/v1/jobs/{'0' * 32}", "/v1/jobs/x/files/report.html"):
                r = request(port, "GET", path, headers=headers)
                assert (
                    r.status == 401 and words in one_sentence(r) and r.headers["www-authenticate"] == "Bearer"
                )
            r = post_job(port, [("a.png", png_bytes(16, 16, 0))], headers=headers)
            assert r.status == 401
        assert not list((settings.data / "jobs").iterdir())
        good = {"Authorization": f"Bearer {TOKEN}"}
        assert request(port, "GET", "/v1/detector", headers=good).status == 200
        assert request(port, "GET", "/v1/detector", headers={"Cookie": f"deal_token={TOKEN}"}).status == 200
        assert request(port, "GET", "/healthz").status == 200 and request(port, "GET", "/").status == 200
        r = post_job(port, [("a.png", png_bytes(16, 16, 0))], headers=good)
        assert r.status == 202 and wait_done(port, r.json()["id"], headers=good)["state"] == "done"
        # With a token, any Host header is answered (behind a reverse proxy); without one, only loopback names.
        assert request(port, "GET", "/healthz", headers={"Host": "deal.example.org"}).status == 200


def test_without_a_token_only_loopback_host_names_are_answered(detector, tmp_path):
    settings = ServeSettings(data=tmp_path / "data")
    with LiveServer(create_app(settings, detector)) as live:
        for host in ("127.0.0.1:8765", "localhost", "[::1]:80"):
            assert request(live.port, "GET", "/healthz", headers={"Host": host}).status == 200
        r = request(live.port, "GET", "/v1/detector", headers={"Host": "attacker.example:8765"})
        assert r.status == 421 and "not 'attacker.example:8765'" in one_sentence(r)
        assert (
            "access-control-allow-origin"
            not in request(
                live.port, "GET", "/v1/detector", headers={"Origin": "https://elsewhere.example"}
            ).headers
        )


def test_one_server_per_data_folder(detector, tmp_path):
    settings = ServeSettings(data=tmp_path / "data")
    with LiveServer(create_app(settings, detector)):
        with pytest.raises(SettingsError, match="another deal serve is using the data folder"):
            create_app(settings, detector)
    create_app(settings, detector).state.store.close()  # free again once the first one has stopped


def test_cors_only_when_asked(detector, tmp_path):
    settings = ServeSettings(data=tmp_path / "data", cors_origins=["https://newsroom.example"])
    with LiveServer(create_app(settings, detector)) as live:
        r = request(live.port, "GET", "/v1/detector", headers={"Origin": "https://newsroom.example"})
        assert r.headers["access-control-allow-origin"] == "https://newsroom.example"
        r = request(live.port, "GET", "/v1/detector", headers={"Origin": "https://elsewhere.example"})
        assert "access-control-allow-origin" not in r.headers


def test_without_the_serve_extra_one_sentence_and_exit_2(monkeypatch, tmp_path):
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "fastapi" else find_spec(name, *a)
    )
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["serve", "--data", str(tmp_path)]) == 2
    assert err.getvalue() == (
        "deal serve: error: deal serve needs FastAPI and uvicorn (the serve extra); from a clone: "
        'pip install -e ".[serve]"\n'
    )


def test_upload_names_and_paths_unit(tmp_path):
    from deal.serve.errors import RequestRefused
    from deal.serve.uploads import file_in, safe_file_name, unique_names

    assert safe_file_name("../../x.png", 1) == "x.png" and safe_file_name("...", 2) == "upload-2"
    assert safe_file_name("a" * 300 + ".jpeg", 1) == "a" * 115 + ".jpeg"
    assert unique_names(["a.png", "A.png", "a.png", "b"]) == ["a.png", "A-2.png", "a-3.png", "b"]
    (tmp_path / "f.txt").write_text("x")
    assert file_in(tmp_path, "f.txt") == (tmp_path / "f.txt").resolve()
    for bad in ("../f.txt", "/f.txt", "C:/f.txt", "a\x00b"):
        with pytest.raises(RequestRefused):
            file_in(tmp_path, bad)
    assert Path(file_in(tmp_path, "./f.txt")).name == "f.txt"


def test_the_pixel_limit_is_deal_detects(tmp_path):
    from deal.imageio import DEFAULT_MAX_PIXELS
    from deal.serve.errors import RequestRefused
    from deal.serve.uploads import check_image_bytes

    # Over Pillow's own warning level (89M pixels) but within deal detect's default limit: accepted.
    assert check_image_bytes(
        png_header(10_000, 9_500), "a.png", max_bytes=10**6, max_pixels=DEFAULT_MAX_PIXELS
    ) == (
        10_000,
        9_500,
    )
    with pytest.raises(RequestRefused, match="100,010,000 pixels, over the limit of 100,000,000") as err:
        check_image_bytes(png_header(10_001, 10_000), "b.png", max_bytes=10**6, max_pixels=DEFAULT_MAX_PIXELS)
    assert err.value.status == 413
    with pytest.raises(RequestRefused, match="64 pixels, over the limit of 50"):
        check_image_bytes(png_header(8, 8), "c.png", max_bytes=10**6, max_pixels=50)


def test_server_side_inputs_are_checked_again_when_the_job_starts(detector, tmp_path):
    from deal.serve.job import JobOptions
    from deal.serve.routes import status_of
    from deal.serve.store import JobStore
    from deal.serve.uploads import server_inputs
    from deal.serve.worker import JobWorker

    root = tmp_path / "photos"
    root.mkdir()
    (root / "a.png").write_bytes(png_bytes(16, 16, 0))
    (tmp_path / "private.png").write_bytes(png_bytes(16, 16, 1))
    store = JobStore(tmp_path / "data")  # no worker thread: this test runs the job itself
    worker = JobWorker(store, detector, batch_size=2, workers=0)
    try:
        args, roots, n = server_inputs(["photos/*.png"], {"photos": root.resolve()})
        assert n == 1
        job_id, folder = store.new_folder()
        job = store.submit(job_id, folder, args, JobOptions(report=None), n, roots=roots)
        (root / "b.png").symlink_to(tmp_path / "private.png")  # appears after the job was accepted
        queued = store.queue.get_nowait()
        assert store.start_running(queued)
        worker.run(queued)
        status = status_of(store, job)
        assert status["state"] == "failed"
        assert status["errors"] == ["b.png: resolves outside the allowed roots (a symlink)."]
        assert not (folder / "out" / "b.png.json").exists()
    finally:
        store.close()
