"""The shipped configs: the bundled detector's three training configs compose (stacked --config files, each
holding only what differs), and no config names a machine-specific path."""

from __future__ import annotations

import contextlib
import io
import re

import pytest
import yaml

from deal.cli.main import main
from tests.conftest import REPO_ROOT

CONFIGS = sorted((REPO_ROOT / "configs").glob("*.yaml"))
STACK = ["bundled_synth.yaml", "bundled_synth_generator.yaml", "bundled_synth_generator_785.yaml"]


def _printed(*names: str) -> dict:
    args = ["train"]
    for name in names:
        args += ["--config", str(REPO_ROOT / "configs" / name)]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_:
        main([*args, "--print_config"])
    assert exit_.value.code in (0, None)
    return yaml.safe_load(out.getvalue())


def test_the_generator_configs_are_stacked_on_the_base():
    base, generator, longer = _printed(*STACK[:1]), _printed(*STACK[:2]), _printed(*STACK)
    assert generator["model"]["config"] == base["model"]["config"] == longer["model"]["config"]
    assert (base["model"]["lr"], generator["model"]["lr"], longer["model"]["lr"]) == (5e-4, 2.5e-4, 2.5e-4)
    assert (generator["model"]["warmup_steps"], longer["model"]["warmup_steps"]) == (10, 100)
    assert generator["data"]["crop_size"] == base["data"]["crop_size"] == 256
    assert len(longer["data"]["train"]) == 4 and longer["trainer"]["max_steps"] == 2400
    for name in STACK[1:]:  # only the differences are written down
        text = yaml.safe_load((REPO_ROOT / "configs" / name).read_text())
        assert "config" not in text.get("model", {}) and "crop_size" not in text.get("data", {})


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_no_machine_specific_path(path):
    text = path.read_text()
    values = re.findall(r":\s*(.+)", re.sub(r"#.*", "", text))
    absolute = [v for v in values if re.search(r"(^|[\[\s,'\"])(/|~|[A-Za-z]:\\)", v)]
    assert not absolute, f"{path.name}: {absolute}"
    assert not re.search(r"/(tmp|work|home|scratch)/", text), path.name
