"""Jobs on the Ray engine (`deal serve --engine ray`): the records of `deal detect --engine ray`."""

from __future__ import annotations

import logging

import pytest

from deal.serve import ServeSettings, create_app
from tests.conftest import REPO_ROOT
from tests.serve.live import (
    LiveServer,
    detect_records,
    png_bytes,
    post_job,
    request,
    wait_done,
    without_seconds,
)

ray = pytest.importorskip("ray", reason='Ray is not installed (pip install -e ".[ray]")')


@pytest.mark.slow
def test_a_job_on_the_ray_engine_is_deal_detect_on_ray(detector, detector_file, tmp_path):
    if ray.is_initialized():
        ray.shutdown()
    env = {"PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, runtime_env={"env_vars": env})
    try:
        settings = ServeSettings(data=tmp_path / "data", batch_size=2, engine="ray")
        with LiveServer(create_app(settings, detector)) as server:
            r = post_job(server.port, [(f"i{i}.png", png_bytes(40, 60 + 8 * i, i)) for i in range(4)])
            assert r.status == 202, r.body
            status = wait_done(server.port, r.json()["id"], timeout=300)
            assert status["state"] == "done" and status["progress"]["done"] == 4
            got = request(server.port, "GET", f"/v1/jobs/{r.json()['id']}/results").json()
        inputs = [str(settings.data / "jobs" / r.json()["id"] / "inputs" / f"i{i}.png") for i in range(4)]
        want = detect_records(inputs, tmp_path / "clean", detector_file, "--engine", "ray")
        for record in want:  # served with paths relative to the job
            record["path"] = "inputs/" + record["path"].rsplit("/", 1)[1]
        assert without_seconds(got) == without_seconds(want)
    finally:
        ray.shutdown()
