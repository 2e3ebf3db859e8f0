"""The shipped configs: the bundled detector's recipe gives its model config, and no config names a
machine-specific path."""

from __future__ import annotations

import contextlib
import io
import re

import pytest
import yaml

from deal.cli.main import main
from tests.conftest import REPO_ROOT

CONFIGS = sorted((REPO_ROOT / "configs").glob("*.yaml"))


def _printed(*names: str, overrides: tuple[str, ...] = ()) -> dict:
    args = ["train"]
    for name in names:
        args += ["--config", str(REPO_ROOT / "configs" / name)]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_:
        main([*args, *overrides, "--print_config"])
    assert exit_.value.code in (0, None)
    return yaml.safe_load(out.getvalue())


def test_the_bundled_recipe_gives_the_shipped_detectors_model_config():
    """configs/bundled_trace_residual.yaml is the bundled file's model (the card's arms override one key each)."""
    from deal.modeling.config import ModelConfig
    from deal.modeling.detector_file import read_detector_info, stored_config

    printed = _printed("bundled_trace_residual.yaml")
    shipped = read_detector_info(REPO_ROOT / "weights" / "deal-demo-tiny-synth.safetensors", with_sha256=False)
    assert stored_config(ModelConfig.from_dict(printed["model"]["config"])) == stored_config(shipped.config)
    assert printed["data"]["paired_originals"] is True and printed["data"]["crop_size"] == 128


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_no_machine_specific_path(path):
    text = path.read_text()
    values = re.findall(r":\s*(.+)", re.sub(r"#.*", "", text))
    absolute = [v for v in values if re.search(r"(^|[\[\s,'\"])(/|~|[A-Za-z]:\\)", v)]
    assert not absolute, f"{path.name}: {absolute}"
    assert not re.search(r"/(tmp|work|home|scratch)/", text), path.name
