"""One truth: `deal evaluate` of `deal detect`'s outputs gives `deal benchmark`'s numbers (bundled detector,
CoCoGlide fixture, 16 edited + 16 authentic 256x256 images, CPU float32).

detect and benchmark each run the detector once per module (shared fixtures); every test reads their outputs.
"""

from __future__ import annotations

import json
import math
import re
import shutil

import numpy as np
import pytest
import torch

from deal.cli.main import main
from deal.evaluation.ground_truth import read_ground_truth
from deal.metrics import METRIC_KEYS, LocalizationMetrics
from deal.report.outputs import heatmap_u8

pytestmark = pytest.mark.slow  # runs deal detect and deal benchmark over the CoCoGlide fixture: ~30 s

# The localization metrics: means over edited images, which maps for edited images only also give.
EDITED_MEANS = ("pixel_f1", "pixel_f1_best", "pixel_iou", "pixel_auc")


@pytest.fixture(scope="module")
def detect_out(cocoglide, tmp_path_factory):
    """`deal detect fake real --save npz,heatmap,json`: the order of the dataset's records (fake, then
    real, each sorted), in deal detect's default batches of 8."""
    out = tmp_path_factory.mktemp("detect") / "out"
    argv = ["detect", str(cocoglide / "fake"), str(cocoglide / "real"), "--out", str(out)]
    code = main([*argv, "--save", "npz,heatmap,json", "--device", "cpu", "--workers", "0", "--quiet"])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def bench(cocoglide, tmp_path_factory):
    """`deal benchmark` of the bundled detector with its defaults: the report dict and benchmark.md."""
    out = tmp_path_factory.mktemp("bench")
    assert (
        main(["benchmark", "--dataset", f"CocoGlide={cocoglide}", "--out", str(out), "--device", "cpu"]) == 0
    )
    report = json.loads((out / "benchmark.json").read_text())
    return report, (out / "benchmark.md").read_text()


def _records(detect_out) -> list[dict]:
    return [json.loads(line) for line in (detect_out / "results.jsonl").read_text().splitlines()]


def _evaluate(pred, cocoglide, tmp_path, threshold, capsys) -> tuple[dict, str]:
    out = tmp_path / "evaluate.json"
    argv = ["evaluate", "--pred", str(pred), "--dataset", f"CocoGlide={cocoglide}"]
    if threshold is not None:
        argv += ["--threshold", repr(threshold)]
    assert main([*argv, "--json", str(out)]) == 0
    return json.loads(out.read_text())["results"]["CocoGlide"], capsys.readouterr().out


def _clean_row(bench) -> dict:
    (row,) = [r for r in bench[0]["results"] if r["label"] == "none"]
    return row["metrics"]


def test_benchmark_reports_f1_at_half_and_at_the_calibrated_threshold(bench, detect_out):
    report, md = bench
    calibrated = report["predictor"]["calibrated_threshold"]
    record = _records(detect_out)[0]
    assert calibrated == record["threshold"] == report["settings"]["threshold"]  # the default
    low, high = report["settings"]["image_thresholds"]
    assert (low, high) == (record["image_threshold_low"], record["image_threshold_high"])
    m = _clean_row(bench)
    assert m["pixel_f1"] != m["pixel_f1_calibrated"]  # F1 at 0.5 (the papers') and at the calibrated threshold
    assert "| F1@0.5 | F1@T | MCC |" in md
    assert f"F1@T, IoU, MCC, F1 dataset and false alarm at p > {calibrated:g} (the detector's calibrated" in md
    # the objectness control: the 16 originals (real/) scored against their edits' masks, with intervals
    assert m["n_control"] == 16 and 0.0 < m["pixel_auc_control"] < 1.0
    assert m["pixel_auc_lift"] == pytest.approx(m["pixel_auc"] - m["pixel_auc_control"], abs=1e-12)
    for key in ("pixel_auc", "pixel_auc_control", "pixel_auc_lift", "pixel_f1", "pixel_mcc", "image_auc"):
        assert m[f"{key}_lo"] <= m[key] <= m[f"{key}_hi"], key
    assert "Objectness control:" in md and re.search(r"\| CocoGlide \| none \| 0\.\d{3} \[0\.\d{3}, 0\.\d{3}\] \|", md)


def test_evaluate_of_detect_npz_equals_benchmark(bench, detect_out, cocoglide, tmp_path, capsys):
    calibrated = bench[0]["predictor"]["calibrated_threshold"]
    # no --threshold: deal detect's own, from its records, as benchmark defaults to the calibrated one
    got, stdout = _evaluate(detect_out, cocoglide, tmp_path, None, capsys)
    assert got["map_sources"] == {"deal detect npz": 32}  # the exact float maps and scores
    assert got["threshold"] == calibrated and "maps read: 32 deal detect npz" in stdout
    assert f"pixel threshold {calibrated:g} (deal detect's, from its records)" in stdout
    expected = _clean_row(bench)
    assert (got["n_edited"], got["n_authentic"], got["n_control"]) == (16, 16, 16)
    # every key, the control, the lift and the bootstrap intervals included
    assert set(expected) <= set(got)
    for key in expected:
        assert got[key] == pytest.approx(expected[key], abs=1e-6), key
    # the headline numbers are not degenerate (F1 at the detector's own threshold: its maps rarely pass 0.5)
    assert 0.05 < got["pixel_f1_calibrated"] < 0.95 and 0.0 < got["pixel_f1"] and 0.5 < got["pixel_auc"] < 1.0


def test_evaluate_of_detect_heatmap_pngs_equals_benchmark_maps_quantized_alike(
    bench, detect_out, cocoglide, cocoglide_records, tmp_path, capsys
):
    """8-bit heatmaps: exactly the metrics of the float maps rounded as deal detect rounds them
    (round(255 p) / 255) with the records' scores (6 decimals)."""
    pngs = tmp_path / "pngs"
    pngs.mkdir()
    records = _records(detect_out)
    for record in records:  # the heatmap PNGs and the records; no npz
        rel = record["outputs"]["heatmap"]
        (pngs / rel).parent.mkdir(parents=True, exist_ok=True)
        (pngs / rel).symlink_to(detect_out / rel)
    shutil.copy(detect_out / "results.jsonl", pngs / "results.jsonl")
    threshold = bench[0]["predictor"]["calibrated_threshold"]
    got, _ = _evaluate(pngs, cocoglide, tmp_path, threshold, capsys)
    assert got["map_sources"] == {"deal detect heatmap": 32}

    by_image = {r["path"]: r for r in records}
    metric = LocalizationMetrics(
        threshold, image_thresholds=(records[0]["image_threshold_low"], records[0]["image_threshold_high"])
    )
    def quantized(path: str) -> torch.Tensor:
        with np.load(detect_out / by_image[path]["outputs"]["npz"]) as npz:
            return torch.from_numpy(heatmap_u8(npz["map"]).astype(np.float32) / 255.0)

    for r in cocoglide_records:
        gt = read_ground_truth(r)
        control = quantized(str(r.original)) if r.original else None  # the original's heatmap, same mask
        metric.update(
            [quantized(str(r.image))], [torch.from_numpy(gt)], [r.label], [by_image[str(r.image)]["score"]],
            controls=[control],
        )
    expected = metric.compute()
    for key in METRIC_KEYS:
        assert got[key] == pytest.approx(expected[key], abs=1e-6), key
    # Against the float maps (what to expect from 8-bit heatmaps; measured on this fixture): a value moves
    # by at most 1/510, so F1/IoU/false alarm at T change only through pixels within 1/510 of T (here
    # < 0.002); ties and values below 1/510 rounded to 0 move the curve metrics more (pixel AUC -0.0095,
    # best F1 -0.0033); the image metrics use the records' scores (6 decimals): unchanged.
    floats = _clean_row(bench)
    tolerance = {"pixel_auc": 0.02, "pixel_f1_best": 0.01, "image_auc": 1e-6, "image_bacc": 1e-6}
    tolerance.update({f"{k}_control": v for k, v in tolerance.items() if k.startswith("pixel")})
    tolerance.update(pixel_auc_lift=0.02, pixel_f1_best_lift=0.01)  # the originals' maps are quantized too
    for key in METRIC_KEYS:
        assert got[key] == pytest.approx(floats[key], abs=tolerance.get(key, 0.005)), key


def test_maps_for_edited_images_only(bench, detect_out, cocoglide, tmp_path, capsys):
    """The usual localization protocol: the localization metrics over the edited images, the image-level
    metrics not available (said, with the reason). Found by deal detect's file names (no records here)."""
    edited = tmp_path / "edited"
    edited.mkdir()
    npz = sorted((detect_out / "fake").glob("*.png.npz"))
    assert len(npz) == 16
    for p in npz:
        (edited / p.name).symlink_to(p)
    threshold = bench[0]["predictor"]["calibrated_threshold"]
    got, stdout = _evaluate(edited, cocoglide, tmp_path, threshold, capsys)
    assert (got["n_edited"], got["n_authentic"]) == (16, 0)
    expected = _clean_row(bench)
    for key in EDITED_MEANS:
        assert got[key] == pytest.approx(expected[key], abs=1e-6), key
    for key in ("image_auc", "image_bacc", "false_alarm_area"):
        assert got[key] is None and "the 16 authentic images have none" in got["not_available"][key]
    assert "image_auc, image_bacc, false_alarm_area not available: maps for the edited images only" in stdout
    # image AUC, image bAcc: n/a; the inconclusive fraction (of the edited images) is a number; false alarm n/a
    assert "| CocoGlide |" in stdout and re.search(r"\| n/a \| n/a \| [0-9.]+ \| n/a \| 16 \| 0 \|", stdout)

    # a missing map for an EDITED image stays an error that lists it
    (edited / npz[0].name).unlink()
    (edited / npz[3].name).unlink()
    assert main(["evaluate", "--pred", str(edited), "--dataset", f"CocoGlide={cocoglide}"]) == 1
    err = capsys.readouterr().err
    assert "2 of 16 edited images have no prediction" in err
    for p in (npz[0], npz[3]):
        assert p.name.removesuffix(".png.npz") in err
    assert not math.isnan(expected["image_auc"])


def test_detect_verdict_counts_equal_the_benchmark_ones(bench, detect_out):
    """The 16 edited + 16 authentic fixture images: deal detect's verdicts, counted, are the benchmark's."""
    from collections import Counter

    records = _records(detect_out)
    assert len(records) == 32
    counted = Counter(r["verdict"] for r in records)
    m = _clean_row(bench)
    assert (m["verdict_edited"], m["verdict_inconclusive"], m["verdict_authentic"]) == (
        counted["edited"], counted["inconclusive"], counted["authentic"]
    )
    assert sum(counted.values()) == m["n_edited"] + m["n_authentic"] == 32
