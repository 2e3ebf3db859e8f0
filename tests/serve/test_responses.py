"""What a client sees of a job names no path of the server's disk; the files on disk stay complete."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

from deal.cli.main import main
from deal.serve import ServeSettings, create_app
from tests.conftest import REPO_ROOT
from tests.serve.live import LiveServer, png_bytes, post_job, request, wait_done


def served_files(port: int, job_id: str, out: Path) -> dict[str, bytes]:
    """Every file of the job's run folder, as the server sends it."""
    files = {}
    for path in sorted(p for p in out.rglob("*") if p.is_file() and ".deal" not in p.parts):
        rel = path.relative_to(out).as_posix()
        r = request(port, "GET", f"/v1/jobs/{job_id}/files/{rel}")
        assert r.status == 200, (rel, r.body)
        files[rel] = r.body
    return files


def test_no_server_path_reaches_a_client_and_the_files_on_disk_stay_complete(detector, tmp_path):
    root = tmp_path / "archive" / "photos"
    (root / "day1").mkdir(parents=True)
    (root / "day1" / "p0.png").write_bytes(png_bytes(32, 48, 10))
    settings = ServeSettings(data=tmp_path / "data", batch_size=2, allow_roots=[root])
    whole = png_bytes(40, 40, 5)
    with LiveServer(create_app(settings, detector)) as live:
        up = post_job(live.port, [("cut.png", whole[: len(whole) // 2]), ("ok.png", whole)])
        by_path = post_job(live.port, fields=[("paths", "photos/day1/p0.png"), ("paths", "photos/nothing.png")])
        status = wait_done(live.port, up.json()["id"])
        status_paths = wait_done(live.port, by_path.json()["id"])
        records = request(live.port, "GET", f"/v1/jobs/{up.json()['id']}/results").json()
        records_paths = request(live.port, "GET", f"/v1/jobs/{by_path.json()['id']}/results").json()
        out = settings.data / "jobs" / up.json()["id"] / "out"
        files = served_files(live.port, up.json()["id"], out)
        files_paths = served_files(live.port, by_path.json()["id"], out.parents[1] / by_path.json()["id"] / "out")
    # Errors and records name files relative to the job, or under the root's name as the client gave them.
    assert status["errors"] == [records[0]["error"]] and records[0]["error"].startswith("inputs/cut.png: ")
    assert [r["path"] for r in records] == ["inputs/cut.png", "inputs/ok.png"]
    assert [r["path"] for r in records_paths] == ["photos/day1/p0.png", "photos/nothing.png"]
    assert status_paths["errors"] == ["photos/nothing.png: no such file"]
    for body in [json.dumps([status, status_paths, records, records_paths]).encode(), *files.values(),
                 *files_paths.values()]:
        assert str(tmp_path).encode() not in body
    # run.json as served: no working directory, Python executable or kernel; the detector by its file name.
    served_run = json.loads(files["run.json"])
    assert "cwd" not in served_run and {"executable", "release"}.isdisjoint(served_run["platform"])
    assert served_run["options"]["inputs"] == ["inputs/cut.png", "inputs/ok.png"]
    assert served_run["options"]["out"] == "out"
    assert json.loads(files_paths["run.json"])["options"]["inputs"] == ["photos/day1/p0.png", "photos/nothing.png"]
    assert [json.loads(line) for line in files["results.jsonl"].splitlines()] == records
    assert json.loads(files["ok.png.json"]) == records[1]
    # On disk, everything is complete, and deal verify accepts the run folder.
    on_disk = json.loads((out / "run.json").read_text())
    assert on_disk["cwd"] and on_disk["platform"]["executable"] and on_disk["options"]["out"] == str(out)
    assert json.loads((out / "results.jsonl").read_text().splitlines()[1])["path"] == str(out.parent / "inputs" / "ok.png")
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        assert main(["verify", str(out)]) == 0, err.getvalue()


def test_results_are_a_json_array_of_the_records_as_the_docs_say(detector, tmp_path):
    settings = ServeSettings(data=tmp_path / "data", batch_size=2)
    with LiveServer(create_app(settings, detector)) as live:
        r = post_job(live.port, [("a.png", png_bytes(16, 16, 0)), ("b.png", png_bytes(20, 16, 1))])
        job = r.json()["id"]
        wait_done(live.port, job)
        results = request(live.port, "GET", f"/v1/jobs/{job}/results")
        lines = request(live.port, "GET", f"/v1/jobs/{job}/files/results.jsonl")
    assert results.headers["content-type"] == "application/json"
    assert lines.headers["content-type"].startswith("application/x-ndjson")
    records = results.json()
    assert isinstance(records, list) and [r["path"] for r in records] == ["inputs/a.png", "inputs/b.png"]
    assert records == [json.loads(line) for line in lines.body.decode().splitlines()]
    docs = (REPO_ROOT / "docs" / "serve.md").read_text(encoding="utf-8")
    row = re.search(r"^\| `GET /v1/jobs/\{id\}/results` \|(.*)\|$", docs, re.M).group(1)
    assert "JSON array" in row and "unchanged" not in row
