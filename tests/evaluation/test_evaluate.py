"""deal evaluate on the CoCoGlide fixture: GT masks score 1, all-ones maps score mean(2a / (1 + a))."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest
from PIL import Image

from deal.cli.main import main
from deal.evaluation.evaluate import evaluate_predictions
from deal.evaluation.predictions import PredictionError
from deal.metrics.image_score import SCORE_RULE


def _edited_fraction(mask_path: str) -> float:
    """Independent of deal: Pillow, mask convention "255 = inpainted" (values > 127)."""
    return float((np.asarray(Image.open(mask_path).convert("L")) > 127).mean())


def _write_maps(records, folder, make) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for r in records:
        h, w = np.asarray(Image.open(r.image)).shape[:2]
        cv2.imwrite(str(folder / f"{r.name}.png"), make(r, h, w))


def _gt_png(r, h, w):
    return (
        (np.asarray(Image.open(r.mask).convert("L")) > 127).astype(np.uint8) * 255
        if r.mask
        else np.zeros((h, w), np.uint8)
    )


@pytest.fixture(scope="module")
def gt_maps(cocoglide_records, tmp_path_factory):
    folder = tmp_path_factory.mktemp("gt_maps")
    _write_maps(cocoglide_records, folder, _gt_png)
    return folder


@pytest.fixture(scope="module")
def ones_maps(cocoglide_records, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ones_maps")
    _write_maps(cocoglide_records, folder, lambda r, h, w: np.full((h, w), 255, np.uint8))
    return folder


def test_gt_masks_as_predictions_score_one(cocoglide_records, gt_maps):
    out = evaluate_predictions(gt_maps, cocoglide_records)
    assert (out["n_edited"], out["n_authentic"]) == (16, 16)
    for key in (
        "pixel_f1",
        "pixel_f1_best",
        "pixel_f1_dataset",
        "pixel_iou",
        "pixel_auc",
        "image_auc",
        "image_bacc",
    ):
        assert out[key] == 1.0, key
    assert out["false_alarm_area"] == 0.0


def test_all_ones_maps_score_the_floor(cocoglide_records, ones_maps):
    a = [_edited_fraction(r.mask) for r in cocoglide_records if r.label == 1]
    expected = float(np.mean([2 * x / (1 + x) for x in a]))
    assert len(a) == 16 and 0.1 < expected < 0.6
    out = evaluate_predictions(ones_maps, cocoglide_records)
    assert out["pixel_f1"] == pytest.approx(expected, abs=1e-12)
    assert out["pixel_f1_best"] == pytest.approx(expected, abs=1e-12)  # one distinct value: flag all
    assert out["pixel_iou"] == pytest.approx(np.mean(a), abs=1e-12)
    assert out["pixel_auc"] == 0.5
    assert out["false_alarm_area"] == 1.0
    assert out["image_auc"] == 0.5 and out["image_bacc"] == 0.5  # every image scores 1.0


def test_cli_writes_table_and_json(cocoglide, cocoglide_records, gt_maps, ones_maps, tmp_path, capsys):
    preds = tmp_path / "preds"
    preds.mkdir()
    (preds / "GT").symlink_to(gt_maps, target_is_directory=True)
    (preds / "Ones").symlink_to(ones_maps, target_is_directory=True)
    out_json = tmp_path / "out" / "eval.json"
    code = main(
        [
            "evaluate",
            "--pred",
            str(preds),
            "--dataset",
            f"GT={cocoglide}",
            "--dataset",
            f"Ones={cocoglide}",
            "--split",
            "test",
            "--json",
            str(out_json),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "Convention: pixel F1 at p>0.5 and at p>0.5 (F1@T), IoU and MCC at p>0.5, per image" in printed
    # GT maps: every per-image metric is 1 on every resample; the control (the original's map is the all-zero
    # GT map of the authentic record) is a constant map: AUC 0.5
    assert "| GT | 1.000 [1.000, 1.000] | 1.000 [1.000, 1.000] | 1.000 [1.000, 1.000] | 1.0000 |" in printed
    assert report_keys_defined(printed)
    report = json.loads(out_json.read_text())
    a = [_edited_fraction(r.mask) for r in cocoglide_records if r.label == 1]
    assert report["results"]["GT"]["pixel_f1"] == 1.0
    assert report["results"]["Ones"]["pixel_f1"] == pytest.approx(
        np.mean([2 * x / (1 + x) for x in a]), abs=1e-12
    )
    assert report["settings"] == {
        "threshold": 0.5,
        "inverted_max": False,
        "border_band": False,
        "num_thresholds": None,
        "image_thresholds": [0.5, 0.5],
        "bootstrap": 1000,
        "seed": 0,
        "confidence": 0.95,
        "image_score": SCORE_RULE,
        "split": "test",
    }
    gt = report["results"]["GT"]
    assert (gt["n_control"], gt["pixel_auc_control"], gt["pixel_auc_lift"]) == (16, 0.5, 0.5)
    assert gt["pixel_mcc"] == 1.0 and gt["pixel_auc_lift_lo"] == gt["pixel_auc_lift_hi"] == 0.5
    assert report["predictions"]["GT"].endswith("GT")


def report_keys_defined(printed: str) -> bool:
    """Every column title of the printed table is a key of METRIC_KEYS (through COLUMN_TITLES)."""
    from deal.metrics.keys import COLUMN_TITLES, METRIC_KEYS

    header = next(line for line in printed.splitlines() if line.startswith("| dataset |"))
    titles = [t.strip() for t in header.strip("|").split("|")][1:]
    return titles == [COLUMN_TITLES.get(k, k) for k in METRIC_KEYS]


def test_cli_options_reach_the_metric(cocoglide, gt_maps, tmp_path):
    out_json = tmp_path / "e.json"
    code = main(
        [
            "evaluate",
            "--pred",
            str(gt_maps),
            "--dataset",
            f"C={cocoglide}",
            "--threshold",
            "1.0",
            "--inverted-max",
            "--border-band",
            "--num-thresholds",
            "256",
            "--json",
            str(out_json),
        ]
    )
    assert code == 0
    report = json.loads(out_json.read_text())
    assert "inverted max on" in report["convention"] and "border band ignored" in report["convention"]
    # at threshold 1.0 nothing is flagged (prob > 1 never holds) and the complement is "flag all"
    result = report["results"]["C"]
    assert result["false_alarm_area"] == 0.0 and 0 < result["pixel_f1_calibrated"] < 1
    assert result["pixel_f1_best"] == 1.0


def test_missing_and_mismatched_predictions(cocoglide, cocoglide_records, gt_maps, tmp_path, capsys):
    partial = tmp_path / "partial"
    partial.mkdir()
    for p in sorted(gt_maps.iterdir())[2:]:
        (partial / p.name).symlink_to(p)
    missing = sorted(p.stem for p in gt_maps.iterdir())[:2]
    assert main(["evaluate", "--pred", str(partial), "--dataset", str(cocoglide)]) == 1
    err = capsys.readouterr().err
    assert "2 of 32 images have no prediction" in err and all(name in err for name in missing)

    r = next(r for r in cocoglide_records if r.label == 1)
    small = tmp_path / "small"
    _write_maps(cocoglide_records, small, _gt_png)
    cv2.imwrite(str(small / f"{r.name}.png"), np.zeros((128, 100), np.uint8))
    with pytest.raises(
        PredictionError, match=f"{r.name}.png is 100x128 .* ground truth .*{r.mask.split('/')[-1]} is 256x256"
    ):
        evaluate_predictions(small, cocoglide_records)


def test_npz_scores_are_used_for_image_metrics(cocoglide_records, tmp_path):
    records = cocoglide_records[14:18]  # 2 edited, 2 authentic
    for i, r in enumerate(records):
        probs = np.full((256, 256), 0.25, np.float32)  # map maxima all equal: image AUC 0.5
        np.savez(tmp_path / f"{r.name}.npz", map=probs, score=np.float32(0.9 if r.label else 0.1 + 0.01 * i))
    out = evaluate_predictions(tmp_path, records)
    assert out["image_auc"] == 1.0 and out["image_bacc"] == 1.0
    assert out["pixel_f1"] == 0.0 and not math.isnan(out["false_alarm_area"])


def test_usage_errors(tmp_path):
    assert main(["evaluate", "--pred", str(tmp_path / "nope"), "--dataset", "x"]) == 2
    assert main(["evaluate", "--pred", str(tmp_path), "--dataset", "A=x", "--dataset", "A=y"]) == 2
    assert main(["evaluate", "--pred", str(tmp_path), "--dataset", "x", "--threshold", "2"]) == 2
