"""A second `deal serve` on a data folder in use refuses at once: one sentence, exit 2, before torch loads."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from deal.serve import SettingsError
from deal.serve.data_lock import DataFolderLock
from tests.conftest import REPO_ROOT

SECOND_SERVER = """
import json, sys
from deal.cli.main import main
rc = main(sys.argv[1:])
print(json.dumps({"rc": rc, "torch": "torch" in sys.modules, "fastapi": "fastapi" in sys.modules}))
"""


def test_a_second_server_on_a_data_folder_in_use_refuses_before_loading_anything(tmp_path):
    data = tmp_path / "data"
    lock = DataFolderLock(data)  # as a running server holds it
    try:
        args = ["serve", "--data", str(data), "--port", "0", "--detector", str(tmp_path / "absent.safetensors")]
        done = subprocess.run(
            [sys.executable, "-c", SECOND_SERVER, *args],
            capture_output=True,
            text=True,
            timeout=120,
            env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
        )
    finally:
        lock.close()
    outcome = json.loads(done.stdout)
    # The data folder is refused first: not the missing detector file, and neither torch nor FastAPI loaded.
    assert outcome == {"rc": 2, "torch": False, "fastapi": False}
    assert done.stderr == f"deal serve: error: another deal serve is using the data folder {data}\n"
    assert sorted(p.name for p in data.iterdir()) == ["serve.lock"]  # nothing else written


def test_the_lock_is_free_again_once_released(tmp_path):
    first = DataFolderLock(tmp_path)
    with pytest.raises(SettingsError, match="another deal serve is using the data folder"):
        DataFolderLock(tmp_path)
    first.close()
    DataFolderLock(tmp_path).close()
