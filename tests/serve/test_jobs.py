"""Jobs over HTTP are deal detect runs: the same records (scores bit-equal), outputs and report."""

from __future__ import annotations

import threading

from deal.report.html import static_text
from deal.serve import ServeSettings, create_app
from tests.serve.live import (
    LiveServer,
    detect_records,
    png_bytes,
    post_job,
    request,
    wait_done,
    without_seconds,
)


def test_uploads_get_deal_detect_records_and_outputs(detector, detector_file, tmp_path):
    settings = ServeSettings(data=tmp_path / "data", batch_size=2, workers=1)
    uploads = [
        ("a.png", png_bytes(48, 64, 1)),
        ("b.jpg", png_bytes(150, 200, 2, "JPEG")),
        ("c.png", png_bytes(40, 40, 3)),
    ]
    with LiveServer(create_app(settings, detector)) as server:
        assert request(server.port, "GET", "/healthz").json() == {"status": "ok"}
        info = request(server.port, "GET", "/v1/detector").json()
        assert (info["name"], info["sha256"], info["threshold"]) == (
            detector.name,
            detector.sha256,
            detector.threshold,
        )
        assert info["image_thresholds"] == list(detector.image_thresholds)
        r = post_job(server.port, uploads, [("threshold", "0.4"), ("image_thresholds", "0.2,0.6")])
        assert r.status == 202, r.body
        job = r.json()
        assert [f["stored"] for f in job["files"]] == ["a.png", "b.jpg", "c.png"]
        status = wait_done(server.port, job["id"])
        assert status["state"] == "done" and status["errors"] == []
        assert status["progress"]["done"] == status["progress"]["total"] == 3
        assert status["progress"]["images_per_second"] > 0
        got = request(server.port, "GET", f"/v1/jobs/{job['id']}/results").json()
        inputs_dir = settings.data / "jobs" / job["id"] / "inputs"
        want = detect_records(
            [str(inputs_dir / n) for n in ("a.png", "b.jpg", "c.png")],
            tmp_path / "clean",
            detector_file,
            "--threshold",
            "0.4",
            "--image-thresholds",
            "0.2,0.6",
            "--report",
            "html",
        )
        # The records of deal detect, with each path relative to the job (no server path reaches a client).
        assert [r["path"] for r in got] == ["inputs/a.png", "inputs/b.jpg", "inputs/c.png"]
        for record in want:
            record["path"] = "inputs/" + record["path"].rsplit("/", 1)[1]
        assert without_seconds(got) == without_seconds(want)  # scores bit-equal (same JSON floats), same verdicts
        assert [r["score"] for r in got] == [r["score"] for r in want]
        assert {r["threshold"] for r in got} == {0.4} and {r["image_threshold_high"] for r in got} == {0.6}
        assert got[1]["inference"] == "tiled"  # 150x200 > the detector's 128-pixel image size
        # Each output file, and the report, served from the job's run folder: the bytes deal detect writes.
        for record in want:
            for kind, rel in record["outputs"].items():
                if kind != "json":
                    served = request(server.port, "GET", f"/v1/jobs/{job['id']}/files/{rel}")
                    assert served.status == 200 and served.body == (tmp_path / "clean" / rel).read_bytes()
        report = request(server.port, "GET", f"/v1/jobs/{job['id']}/files/report.html")
        assert report.status == 200 and report.headers["content-type"].startswith("text/html")
        folder = settings.data / "jobs" / job["id"]
        clean_report = (tmp_path / "clean" / "report.html").read_text(encoding="utf-8")
        assert report.body.decode() == clean_report.replace(str(tmp_path / "clean"), str(folder / "out")).replace(
            f"{folder}/", ""
        )
        assert str(tmp_path) not in report.body.decode() and "inputs/b.jpg" in report.body.decode()
        page = request(server.port, "GET", "/")
        assert page.status == 200 and b"http://" not in page.body and b"https://" not in page.body
        assert static_text("static/report.css").encode() in page.body  # the report's style, not a copy
        assert request(server.port, "GET", "/openapi.json").json()["paths"].keys() >= {
            "/v1/jobs",
            "/v1/detector",
        }
        assert request(server.port, "GET", "/docs").status == 200


def test_server_side_paths_only_under_allowed_roots(detector, detector_file, tmp_path):
    root = tmp_path / "photos"
    (root / "day1").mkdir(parents=True)
    for i in range(3):
        (root / "day1" / f"p{i}.png").write_bytes(png_bytes(32, 48, 10 + i))
    settings = ServeSettings(data=tmp_path / "data", batch_size=2, allow_roots=[root])
    with LiveServer(create_app(settings, detector)) as server:
        r = post_job(server.port, fields=[("paths", "photos/day1/*.png"), ("report", "none")])
        assert r.status == 202, r.body
        assert r.json()["progress"]["total"] == 3
        assert wait_done(server.port, r.json()["id"])["state"] == "done"
        got = request(server.port, "GET", f"/v1/jobs/{r.json()['id']}/results").json()
        want = detect_records([str(root / "day1" / "*.png")], tmp_path / "clean", detector_file)
        for record in want:  # named as the client named them: under the root's name
            record["path"] = record["path"].replace(f"{tmp_path}/", "")
        assert [r["path"] for r in want] == [f"photos/day1/p{i}.png" for i in range(3)]
        assert without_seconds(got) == without_seconds(want)


def test_fifty_concurrent_uploads_all_complete(detector, tmp_path):
    settings = ServeSettings(data=tmp_path / "data", batch_size=2, workers=0)
    results: dict[int, object] = {}

    def upload(i: int) -> None:
        r = post_job(
            server.port, [(f"img{i}.png", png_bytes(16, 16, i))], [("report", "none"), ("save", "json")]
        )
        results[i] = r.json() if r.status == 202 else r.status

    with LiveServer(create_app(settings, detector)) as server:
        threads = [threading.Thread(target=upload, args=(i,)) for i in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert sorted(results) == list(range(50))
        assert all(isinstance(j, dict) for j in results.values()), results
        for i, job in results.items():
            status = wait_done(server.port, job["id"])
            assert status["state"] == "done" and status["progress"]["done"] == 1
            records = request(server.port, "GET", f"/v1/jobs/{job['id']}/results").json()
            assert len(records) == 1 and records[0]["error"] is None
            assert records[0]["path"].endswith(f"img{i}.png")


def test_an_image_that_fails_to_decode_fails_in_its_record_and_the_job_goes_on(detector, tmp_path):
    settings = ServeSettings(data=tmp_path / "data", batch_size=2)
    whole = png_bytes(64, 64, 5)
    with LiveServer(create_app(settings, detector)) as server:
        r = post_job(server.port, [("cut.png", whole[: len(whole) // 2]), ("ok.png", whole)])
        assert r.status == 202, r.body  # its header is fine: it is refused when deal detect decodes it
        status = wait_done(server.port, r.json()["id"])
        records = request(server.port, "GET", f"/v1/jobs/{r.json()['id']}/results").json()
    assert status["state"] == "done" and status["progress"]["n_failed"] == 1
    assert [rec["error"] is None for rec in records] == [False, True]
    assert status["errors"] == [records[0]["error"]] and "cut.png" in records[0]["error"]


def test_the_bundled_detector_is_flagged_on_the_page_and_in_each_job_report(detector, tmp_path):
    from deal.report.html import BUNDLED_BANNER

    bundled = detector.replace(bundled=True)
    settings = ServeSettings(data=tmp_path / "data", batch_size=2)
    with LiveServer(create_app(settings, detector)) as server:
        info = request(server.port, "GET", "/v1/detector").json()
        assert (info["bundled"], info["notice"]) == (False, None)
    with LiveServer(create_app(ServeSettings(data=tmp_path / "data2", batch_size=2), bundled)) as server:
        info = request(server.port, "GET", "/v1/detector").json()
        assert (info["bundled"], info["notice"]) == (True, BUNDLED_BANNER)
        # A job with its own thresholds runs a copy of the detector: still the bundled one, in its report.
        r = post_job(server.port, [("a.png", png_bytes(32, 32, 4))], [("threshold", "0.3")])
        assert wait_done(server.port, r.json()["id"])["state"] == "done"
        report = request(server.port, "GET", f"/v1/jobs/{r.json()['id']}/files/report.html").body.decode()
    assert 'class="banner demo"' in report and BUNDLED_BANNER in report


def test_a_job_with_its_own_thresholds_keeps_every_other_field_of_the_servers_detector(detector, tmp_path):
    from deal.provenance import ProvenanceOptions

    served = detector.replace(provenance=ProvenanceOptions(enabled=False), max_pixels=40 * 40)
    settings = ServeSettings(data=tmp_path / "data", batch_size=2, max_pixels=10**6)
    with LiveServer(create_app(settings, served)) as server:
        uploads = [("small.png", png_bytes(32, 32, 4)), ("large.png", png_bytes(48, 48, 5))]
        r = post_job(server.port, uploads, [("threshold", "0.3"), ("report", "none")])
        assert wait_done(server.port, r.json()["id"])["state"] == "done"
        small, large = request(server.port, "GET", f"/v1/jobs/{r.json()['id']}/results").json()
    assert small["threshold"] == 0.3 and small["error"] is None
    assert small["provenance"] is None  # provenance stays off, as the server's detector has it
    assert "over the limit of 1,600 " in large["error"]  # and the detector's pixel limit is kept
