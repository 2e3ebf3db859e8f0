"""What the store keeps: DELETE /v1/jobs/{id}, and retention by age and total bytes (at start and after
each job)."""

from __future__ import annotations

import json
import time

import pytest

from deal.serve import ServeSettings, create_app
from deal.serve.job import folder_bytes
from deal.serve.retention import DAY, Retention, StoredJob, jobs_to_delete
from tests.serve.live import HeldJobs, LiveServer, png_bytes, post_job, request, wait_done, wait_until
from tests.serve.test_refusals import one_sentence


def run_one(port: int, seed: int) -> str:
    r = post_job(port, [(f"img{seed}.png", png_bytes(48, 48, 0))], [("report", "none")])  # one size
    assert r.status == 202, r.body
    assert wait_done(port, r.json()["id"])["state"] == "done"
    return r.json()["id"]


def test_filling_the_store_past_its_limit_deletes_the_oldest_ended_jobs(detector, tmp_path):
    settings = ServeSettings(data=tmp_path / "data", batch_size=2)
    jobs_dir = settings.data / "jobs"
    with LiveServer(create_app(settings, detector)) as live:
        store = live.app.state.store
        first = run_one(live.port, 0)
        one_job = folder_bytes(jobs_dir / first)
        assert one_job > 0
        store.retention = Retention(max_bytes=int(2.5 * one_job))  # room for two jobs of this size
        ids = [first] + [run_one(live.port, seed) for seed in (1, 2, 3)]
        wait_until(lambda: sorted(p.name for p in jobs_dir.iterdir()) == sorted(ids[2:]))
        assert folder_bytes(jobs_dir) <= 2.5 * one_job
        for gone in ids[:2]:
            r = request(live.port, "GET", f"/v1/jobs/{gone}")
            assert r.status == 404 and one_sentence(r) == f"no job {gone!r}."
        assert request(live.port, "GET", f"/v1/jobs/{ids[3]}/results").status == 200
        # A limit smaller than one job: the job that ended last is kept, so that its results can be fetched.
        store.retention = Retention(max_bytes=1)
        last = run_one(live.port, 4)
        wait_until(lambda: [p.name for p in jobs_dir.iterdir()] == [last])
        assert request(live.port, "GET", f"/v1/jobs/{last}/results").status == 200

    # At start: jobs that ended more than --keep-days ago are deleted before the server answers.
    state = jobs_dir / last / "state.json"
    ended = json.loads(state.read_text())
    ended["ended_at"] = time.time() - 8 * DAY
    state.write_text(json.dumps(ended))
    app = create_app(ServeSettings(data=settings.data, keep_days=7), detector)
    app.state.store.close()
    assert list(jobs_dir.iterdir()) == []


def test_delete_a_job(detector, tmp_path, monkeypatch):
    held = HeldJobs(monkeypatch)
    settings = ServeSettings(data=tmp_path / "data", batch_size=2)
    with LiveServer(create_app(settings, detector)) as live:
        running = post_job(live.port, [("a.png", png_bytes(16, 16, 0))], [("report", "none")]).json()["id"]
        queued = post_job(live.port, [("b.png", png_bytes(16, 16, 1))], [("report", "none")]).json()["id"]
        assert held.started.wait(30)
        r = request(live.port, "DELETE", f"/v1/jobs/{running}")
        assert r.status == 409 and "is running" in one_sentence(r)
        r = request(live.port, "DELETE", f"/v1/jobs/{queued}")  # a queued job is never run once deleted
        assert r.status == 200 and r.json()["deleted"] is True and r.json()["bytes_freed"] > 0
        assert not (settings.data / "jobs" / queued).exists()
        held.release()
        assert wait_done(live.port, running)["state"] == "done"
        size = folder_bytes(settings.data / "jobs" / running)
        r = request(live.port, "DELETE", f"/v1/jobs/{running}")
        assert r.status == 200 and r.json() == {"id": running, "deleted": True, "bytes_freed": size}
        assert list((settings.data / "jobs").iterdir()) == []
        for job_id in (running, queued, "0" * 32, "nope"):
            r = request(live.port, "DELETE", f"/v1/jobs/{job_id}")
            assert r.status == 404 and one_sentence(r).startswith("no job")
        assert live.app.state.store.pending() == 0


def test_retention_rules():
    now = 100 * DAY
    jobs = [
        StoredJob("old", now - 9 * DAY, 10),
        StoredJob("a", now - 3 * DAY, 40),
        StoredJob("b", now - 2 * DAY, 40),
        StoredJob("running", None, 50),
        StoredJob("c", now - 1 * DAY, 40),
    ]
    assert jobs_to_delete(jobs, Retention(max_age=7 * DAY, max_bytes=1000), now) == ["old"]
    assert jobs_to_delete(jobs, Retention(max_age=7 * DAY, max_bytes=130), now) == ["old", "a"]
    # Never the running job, nor the last to end, whatever the limit.
    assert jobs_to_delete(jobs, Retention(max_age=7 * DAY, max_bytes=1), now) == ["old", "a", "b"]
    assert jobs_to_delete(jobs, Retention(max_age=0.5 * DAY, max_bytes=1000), now) == ["old", "a", "b", "c"]
    with pytest.raises(ValueError, match="age must be > 0"):
        Retention(max_age=0)
