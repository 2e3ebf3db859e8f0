"""Cross-site requests: a page on another site cannot start or delete jobs through the analyst's browser,
and a refusal on an allowed origin carries the CORS headers its page needs to read it."""

from __future__ import annotations

import os

from deal.serve import ServeSettings, create_app
from tests.serve.live import LiveServer, multipart, png_bytes, post_job, request, wait_done
from tests.serve.test_refusals import one_sentence

NEWSROOM = "https://newsroom.example"


def test_state_changing_requests_from_another_site_are_refused(detector, tmp_path):
    settings = ServeSettings(data=tmp_path / "data", batch_size=2)
    image = [("a.png", png_bytes(16, 16, 0))]
    with LiveServer(create_app(settings, detector)) as live:
        own = f"http://127.0.0.1:{live.port}"
        for headers in [
            {"Origin": "http://evil.example"},  # a cross-site form post (no CORS needed for it)
            {"Origin": "null"},  # a sandboxed frame or a file:// page
            {"Sec-Fetch-Site": "cross-site"},
            {"Origin": "http://localhost:3000", "Sec-Fetch-Site": "same-site"},  # another port of this host
            {"Origin": "http://127.0.0.1:1"},  # no Sec-Fetch-Site (an older browser): the Origin decides
        ]:
            r = post_job(live.port, image, headers=headers)
            assert r.status == 403 and "is refused" in one_sentence(r), (headers, r.status, r.body)
        assert list((settings.data / "jobs").iterdir()) == []
        # The page itself, a client that is not a browser, and a browser's own navigation are answered.
        for headers in [{"Origin": own, "Sec-Fetch-Site": "same-origin"}, {"Origin": own}, {}, {"Sec-Fetch-Site": "none"}]:
            r = post_job(live.port, image, [("report", "none")], headers=headers)
            assert r.status == 202, (headers, r.body)
            assert wait_done(live.port, r.json()["id"])["state"] == "done"
        job = r.json()["id"]
        r = request(live.port, "DELETE", f"/v1/jobs/{job}", headers={"Origin": "http://evil.example"})
        assert r.status == 403 and (settings.data / "jobs" / job).is_dir()
        # Reading is not state-changing: answered, with no CORS header (the other site cannot read it).
        r = request(live.port, "GET", f"/v1/jobs/{job}", headers={"Origin": "http://evil.example"})
        assert r.status == 200 and "access-control-allow-origin" not in r.headers


def test_an_allowed_origin_may_post_and_reads_its_refusals(detector, tmp_path):
    settings = ServeSettings(
        data=tmp_path / "data", batch_size=2, cors_origins=[NEWSROOM], max_request_bytes=100_000
    )
    with LiveServer(create_app(settings, detector)) as live:
        cross = {"Origin": NEWSROOM, "Sec-Fetch-Site": "cross-site"}
        r = post_job(live.port, [("a.png", png_bytes(16, 16, 0))], [("report", "none")], headers=cross)
        assert r.status == 202 and r.headers["access-control-allow-origin"] == NEWSROOM
        assert wait_done(live.port, r.json()["id"])["state"] == "done"
        r = post_job(live.port, [("a.png", png_bytes(16, 16, 0))], headers={"Origin": "https://elsewhere.example"})
        assert r.status == 403 and "access-control-allow-origin" not in r.headers
        # Over the request limit: the 413 carries the CORS headers, so the newsroom's page can show why.
        body, headers = multipart([("big.png", os.urandom(150_000))])
        r = request(live.port, "POST", "/v1/jobs", body, {**headers, **cross})
        assert r.status == 413 and "over the limit of 100,000 bytes" in one_sentence(r)
        assert r.headers["access-control-allow-origin"] == NEWSROOM
        preflight = request(
            live.port,
            "OPTIONS",
            f"/v1/jobs/{'0' * 32}",
            headers={"Origin": NEWSROOM, "Access-Control-Request-Method": "DELETE"},
        )
        assert preflight.status == 200 and "DELETE" in preflight.headers["access-control-allow-methods"]
