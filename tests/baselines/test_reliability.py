"""The views' reliability file (deal/baselines/views/reliability.json): written by one command that runs
deal benchmark, read by the report's and the serve page's labels. The slow test re-runs the command on the
CoCoGlide test fixture and compares with the file's ``fixture`` entry."""

from __future__ import annotations

import importlib.util
import math
import shlex

import pytest

from deal.baselines.views import VIEWS
from deal.baselines.views.reliability import (
    FIGURE_KEYS,
    LABEL_ENTRY,
    MODEL,
    NO_SIGNAL,
    load_reliability,
    reliability_line,
)
from tests.conftest import REPO_ROOT, require_shared


def _writer():
    spec = importlib.util.spec_from_file_location("view_reliability", REPO_ROOT / "benchmarks" / "view_reliability.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_shipped_file_has_every_view_and_the_model_in_the_label_and_fixture_entries():
    data = load_reliability()
    names = {MODEL, *(v.baseline for v in VIEWS.values()), "centre", "predict-everything"}
    for entry in (LABEL_ENTRY, "fixture"):
        found = data["entries"][entry]
        assert set(found["figures"]) == names
        assert found["command"].startswith("python -m deal_benchmarks.view_reliability --entry " + entry)
        for figure in found["figures"].values():
            for key in FIGURE_KEYS:
                assert {key, f"{key}_lo", f"{key}_hi"} <= set(figure)
                assert figure[f"{key}_lo"] <= figure[key] + 1e-9 and figure[key] <= figure[f"{key}_hi"] + 1e-9
            lift = figure["pixel_auc"] - figure["pixel_auc_control"]
            assert figure["pixel_auc_lift"] == pytest.approx(lift, abs=1e-9)


def _data(lift, lo, hi):
    return {"entries": {"dev": {"dataset": "a set", "figures": {
        "ela": {"pixel_auc_lift": lift, "pixel_auc_lift_lo": lo, "pixel_auc_lift_hi": hi}}}}}  # fmt: skip


def test_the_line_says_no_signal_when_the_interval_includes_zero():
    assert reliability_line("ela", data=_data(0.1, 0.02, 0.18)) == "pixel-AUC lift +0.100 [+0.020, +0.180] on a set"
    assert reliability_line("ela", data=_data(0.01, -0.02, 0.04)) == (
        f"{NO_SIGNAL} (pixel-AUC lift +0.010 [-0.020, +0.040] on a set)"
    )
    assert reliability_line("noise", data=_data(0.1, 0.02, 0.18)) == "reliability not measured"
    assert reliability_line("ela", entry="other", data=_data(0.1, 0.02, 0.18)) == "reliability not measured"


@pytest.mark.slow
def test_the_fixture_entry_is_what_its_command_measures_now():
    """The command stored in the fixture entry, run again on the 16-image fixture, gives the same figures
    (the baselines' maps are deterministic; the model's on CPU within 1e-3)."""
    require_shared("fixtures", "CocoGlide")
    stored = load_reliability()["entries"]["fixture"]
    argv = shlex.split(stored["command"])[3:]  # after python -m deal_benchmarks.view_reliability
    args = dict(zip(argv[::2], argv[1::2]))
    name, folder = args["--dataset"].split("=", 1)  # a folder relative to the repository root
    fresh = _writer().measure(f"{name}={REPO_ROOT / folder}", args["--describe"], stored["command"])
    assert (fresh["dataset"], fresh["n_images"]) == (stored["dataset"], stored["n_images"])
    assert set(fresh["figures"]) == set(stored["figures"])
    for name, figure in stored["figures"].items():
        for key, value in figure.items():
            if key == "cpu_seconds_per_megapixel":
                continue
            new = fresh["figures"][name][key]
            assert (math.isnan(value) and math.isnan(new)) or new == pytest.approx(value, abs=1e-3), (name, key)
