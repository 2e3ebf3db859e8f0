"""The robustness benchmark with fake predictors on the CoCoGlide fixture (no model needed)."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from deal.cli.main import main
from deal.data.io import read_image
from deal.evaluation.benchmark import run_benchmark, write_benchmark_report
from deal.evaluation.benchmark_run import image_seed
from deal.evaluation.ground_truth import read_ground_truth
from deal.evaluation.perturb import Perturbation, parse_perturbation
from deal.metrics import METRIC_KEYS, LocalizationMetrics, MetricConvention
from deal.modeling.input_policy import resize_map

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def ones_predictor(image):
    return np.ones(image.shape[:2], np.float32), 1.0


def gray_predictor(image):
    gray = image.astype(np.float32).mean(axis=2) / 255.0
    return gray, float(gray.mean())


class GrayBatch:
    calls: list[int]

    def __init__(self):
        self.calls = []

    def predict_batch(self, images):
        self.calls.append(len(images))
        return [gray_predictor(im) for im in images]


def _floor(records) -> float:
    a = [float((np.asarray(Image.open(r.mask).convert("L")) > 127).mean()) for r in records if r.label == 1]
    return float(np.mean([2 * x / (1 + x) for x in a]))


@pytest.fixture(scope="module")
def mixed(cocoglide_records):
    records = cocoglide_records[14:18]  # 2 edited + 2 authentic
    assert [r.label for r in records] == [1, 1, 0, 0]
    return records


def test_constant_maps_give_the_floor_under_every_perturbation(cocoglide_records):
    perts = (
        parse_perturbation("jpeg=50") + parse_perturbation("resize=0.5,0.75") + parse_perturbation("noise=5")
    )
    report = run_benchmark(ones_predictor, {"CocoGlide": cocoglide_records}, perts, limit=4)
    expected = _floor(cocoglide_records[:4])
    assert [r["label"] for r in report["results"]] == [
        "none",
        "jpeg=50",
        "resize=0.5",
        "resize=0.75",
        "noise=5",
    ]
    for row in report["results"]:  # the 4 edits, and their 4 originals as authentic images
        assert row["n_images"] == 8 and row["metrics"]["n_edited"] == 4 and row["metrics"]["n_authentic"] == 4
        assert row["metrics"]["pixel_f1"] == pytest.approx(expected, abs=1e-12), row["label"]
        assert row["images_per_s"] > 0


def _restored(probs, hw):
    return resize_map(torch.from_numpy(probs), hw)


def test_metrics_equal_a_direct_computation(mixed):
    perts = [Perturbation("jpeg", 50), Perturbation("resize", 0.5), Perturbation("noise", 3)]
    report = run_benchmark(gray_predictor, {"mix": mixed}, perts, seed=11)
    rows = {r["label"]: r["metrics"] for r in report["results"]}
    originals = [r.original for r in mixed if r.original]
    assert len(originals) == 2 and not {r.image for r in mixed} & set(originals)  # not records here
    for p in [Perturbation("none"), *perts]:
        direct = LocalizationMetrics(convention=MetricConvention())

        def predicted(path, name, p=p):  # the map of one file under p, its noise seeded by its own name
            return gray_predictor(p.apply(read_image(path), seed=image_seed(11, name)))

        for r in mixed:
            probs, score = predicted(r.image, r.name)
            gt = read_ground_truth(r)
            control = None
            if r.original:  # the objectness control: the original, same perturbation, scored on the same mask
                control = _restored(predicted(r.original, Path(r.original).stem)[0], gt.shape)
            direct.update([_restored(probs, gt.shape)], [torch.from_numpy(gt)], [r.label], [score], controls=[control])
        for path in originals:  # the originals that are not records count as authentic images too, after them
            probs, score = predicted(path, Path(path).stem)
            hw = read_image(path).shape[:2]  # a resized image's map comes back to the image's size
            direct.update([_restored(probs, hw)], [torch.zeros(hw)], [0], [score])
        expected = direct.compute()
        assert set(rows[p.label]) == set(expected)  # the intervals too
        for key in expected:
            assert rows[p.label][key] == pytest.approx(expected[key], nan_ok=True), (p.label, key)
    # the perturbations did change the input: the maps, hence the metrics, differ from "none"
    assert rows["jpeg=50"]["pixel_auc"] != rows["none"]["pixel_auc"]
    assert rows["resize=0.5"]["pixel_auc"] != rows["none"]["pixel_auc"]
    assert rows["none"]["n_authentic"] == 4 and 0 <= rows["none"]["image_auc"] <= 1
    # both edited images have their original: control and lift are numbers, lift = edit - control per image
    none = rows["none"]
    assert none["n_control"] == 2 and 0 <= none["pixel_auc_control"] <= 1
    assert none["pixel_auc_lift"] == pytest.approx(none["pixel_auc"] - none["pixel_auc_control"])
    assert none["pixel_f1_best_lift"] == pytest.approx(none["pixel_f1_best"] - none["pixel_f1_best_control"])
    assert none["pixel_auc_lo"] <= none["pixel_auc"] <= none["pixel_auc_hi"]


def test_constant_maps_have_no_lift(cocoglide_records):
    """Predict-everything scores its map of the original exactly as its map of the edit: AUC 0.5, lift 0."""
    m = run_benchmark(ones_predictor, {"c": cocoglide_records[:3]})["results"][0]["metrics"]
    assert (m["pixel_auc"], m["pixel_auc_control"], m["pixel_auc_lift"]) == (0.5, 0.5, 0.0)
    assert m["pixel_f1_best_lift"] == 0.0 and m["n_control"] == 3
    assert (m["pixel_auc_lift_lo"], m["pixel_auc_lift_hi"]) == (0.0, 0.0)
    off = run_benchmark(ones_predictor, {"c": cocoglide_records[:3]}, control=False)["results"][0]["metrics"]
    assert off["n_control"] == 0 and np.isnan(off["pixel_auc_control"]) and np.isnan(off["pixel_auc_lift"])


def test_batch_predictor_matches_single(mixed):
    batch = GrayBatch()
    perts = [Perturbation("resize", 0.75)]
    a = run_benchmark(batch, {"mix": mixed}, perts, batch_size=3)
    b = run_benchmark(gray_predictor, {"mix": mixed}, perts)
    # 2 chunks x (none, resize), each followed by the originals of its edited images (the control)
    assert batch.calls == [3, 2, 3, 2, 1, 1]
    for ra, rb in zip(a["results"], b["results"]):  # the same rows in the same order: the intervals too
        assert ra["metrics"] == pytest.approx(rb["metrics"], nan_ok=True)


def test_a_predictor_that_fails_on_an_image_gives_an_error_row_and_the_run_goes_on(mixed, tmp_path):
    """A wrong-size map, a NaN map and an exception each become an error row of their own; the other images
    are scored, and a window that raises is asked again image by image."""
    bad = {mixed[0].image: "size", mixed[2].image: "nan", mixed[3].image: "raise"}
    by_id: dict[int, str] = {}

    class Flaky:
        def __init__(self):
            self.calls = []

        def predict_batch(self, images):
            self.calls.append(len(images))
            kinds = [by_id.get(id(im)) for im in images]
            if "raise" in kinds:
                raise RuntimeError("out of memory on this image")
            out = []
            for im, kind in zip(images, kinds):
                probs, score = gray_predictor(im)
                out.append((np.zeros((10, 10), np.float32) if kind == "size" else probs * np.nan if kind == "nan" else probs, score))
            return out

    def reader(path):
        image = read_image(path)
        if path in bad:
            by_id[id(image)] = bad[path]
        return image

    flaky = Flaky()
    report = run_benchmark(flaky, {"mix": mixed}, reader=reader, batch_size=4)
    # the window of 4 raised, then each image alone; then the 2 originals (not records) in one window
    assert flaky.calls == [4, 1, 1, 1, 1, 2]
    errors = {e["image"]: e["error"] for e in report["errors"]}
    assert errors == {
        mixed[0].name: "the predictor returned a (10, 10) map for a 256x256 (HxW) input",
        mixed[2].name: "the predictor returned a map with values outside [0, 1] (or NaN)",
        mixed[3].name: "the predictor failed: RuntimeError: out of memory on this image",
    }
    assert all(e["dataset"] == "mix" and e["run"] == "none" for e in report["errors"])
    (row,) = report["results"]
    # scored: the one good edit (with its control) and the 2 originals as authentic images
    assert (row["n_images"], row["n_errors"], row["metrics"]["n_edited"], row["metrics"]["n_authentic"]) == (3, 3, 1, 2)
    assert row["metrics"]["n_control"] == 1
    md = write_benchmark_report(report, tmp_path)["markdown"].read_text()
    assert "## Errors" in md and f"| mix | none | {mixed[3].name} | the predictor failed: RuntimeError" in md


def test_report_files(cocoglide_records, tmp_path):
    perts = parse_perturbation("jpeg=90,50") + parse_perturbation("blur=1")
    report = run_benchmark(
        gray_predictor,
        {"A": cocoglide_records[:2], "B": cocoglide_records[16:18]},
        perts,
        predictor_info={"name": "gray", "sha256": "ab" * 32},
    )
    written = write_benchmark_report(report, tmp_path / "out")
    assert sorted(
        p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*") if p.is_file()
    ) == [
        "benchmark.json",
        "benchmark.md",
        "plots/jpeg_pixel_auc.png",
        "plots/jpeg_pixel_f1.png",
    ]  # blur has one strength: no plot
    assert written["jpeg_pixel_f1"].read_bytes()[:8] == PNG_MAGIC
    saved = json.loads(written["json"].read_text())
    assert saved["convention"] == MetricConvention().describe()
    assert MetricConvention.from_dict(saved["settings"]) == MetricConvention()
    assert saved["predictor"] == {"name": "gray", "sha256": "ab" * 32}
    assert saved["peak_memory"]["bytes"] > 0 and saved["peak_memory"]["kind"] == "process_max_rss"
    assert "torch" in saved["hardware"] and len(saved["results"]) == 8
    b_none = next(r for r in saved["results"] if r["dataset"] == "B" and r["label"] == "none")
    assert b_none["metrics"]["pixel_f1"] is None  # B holds authentic images only: NaN -> null
    md = written["markdown"].read_text()
    assert md.startswith("# Benchmark: gray\n")
    assert f"Convention: {report['convention']}." in md
    assert "| dataset | perturbation | pixel AUC | AUC control | AUC lift | F1 best | F1 best control |" in md
    assert "| F1 best lift | paired | F1@0.5 |" in md  # the paired count beside the lifts it averages over
    assert "Objectness control: where a dataset has the unedited originals" in md
    assert "pixel_f1" not in md.split("## Localization")[0] or "F1@0.5: F1 of p > 0.5 per image" in md
    for label in ("none", "jpeg=90", "jpeg=50", "blur=1"):
        assert f"| A | {label} | " in md and f"| B | {label} | " in md
    assert "![pixel_f1 vs jpeg](plots/jpeg_pixel_f1.png)" in md


def test_cli_with_a_fake_detector(cocoglide, cocoglide_records, tmp_path, monkeypatch, capsys):
    seen = {}

    class FakeDetector:
        name = "fake-ones"
        sha256 = "0" * 64
        device = "cpu"
        threshold, image_thresholds, max_pixels = 0.5, (0.5, 0.5), 10**8

        @classmethod
        def load(cls, path=None, device="auto"):
            seen.update(path=path, device=device)
            return cls()

        def predict(self, image):
            return types.SimpleNamespace(heatmap=np.ones(image.shape[:2], np.float32), score=1.0)

        def predict_many(self, images, batch_size=8):
            seen.setdefault("batches", []).append(batch_size)
            return [self.predict(im) for im in images]

    module = types.ModuleType("deal.inference.detector")
    module.Detector = FakeDetector
    monkeypatch.setitem(sys.modules, "deal.inference.detector", module)
    out = tmp_path / "bench"
    # the CLI checks a --detector file's safetensors header before loading it: deal's format, no tensors
    from safetensors.numpy import save_file

    from deal.modeling.detector_format import FORMAT

    fake_file = tmp_path / "x.safetensors"
    save_file({}, str(fake_file), metadata={"format": FORMAT})
    code = main(
        [
            "benchmark",
            "--dataset",
            f"CocoGlide={cocoglide}",
            "--perturb",
            "jpeg=90,50",
            "--perturb",
            "resize=0.5",
            "--limit",
            "4",
            "--out",
            str(out),
            "--device",
            "cpu",
        ]
    )
    assert code == 0
    assert (seen["path"], seen["device"]) == (None, "cpu")
    # deal detect's batch size: one window of 4 images, then one of their 4 originals (the control), x 4 runs
    assert seen.pop("batches") == [8] * 8
    report = json.loads((out / "benchmark.json").read_text())
    assert report["predictor"]["name"] == "fake-ones" and report["predictor"]["weights"] == "bundled"
    assert [r["label"] for r in report["results"]] == ["none", "jpeg=90", "jpeg=50", "resize=0.5"]
    expected = _floor(cocoglide_records[:4])
    assert all(r["metrics"]["pixel_f1"] == pytest.approx(expected, abs=1e-12) for r in report["results"])
    assert (out / "plots" / "jpeg_pixel_f1.png").is_file() and not (
        out / "plots" / "resize_pixel_f1.png"
    ).exists()
    assert "| CocoGlide | jpeg=50 |" in capsys.readouterr().out
    # --batch-size sets the windows of Detector.predict_many, same numbers
    code = main(
        [
            "benchmark",
            "--dataset",
            f"CocoGlide={cocoglide}",
            "--limit",
            "3",
            "--batch-size",
            "2",
            "--out",
            str(tmp_path / "b2"),
            "--device",
            "cpu",
            "--detector",
            str(fake_file),
        ]
    )
    # windows of 2: [2 edits], [their 2 originals], [1 edit], [its original]
    assert code == 0 and seen["batches"] == [2, 2, 2, 2] and seen["path"] == str(fake_file)
    row = json.loads((tmp_path / "b2" / "benchmark.json").read_text())["results"][0]
    assert row["metrics"]["pixel_f1"] == pytest.approx(_floor(cocoglide_records[:3]), abs=1e-12)


def test_cli_usage_errors(tmp_path):
    assert main(["benchmark", "--dataset", "x", "--perturb", "sharpen=1"]) == 2
    assert main(["benchmark", "--dataset", "x", "--limit", "0"]) == 2


def test_baseline_rows_score_the_predict_everything_floor(tmp_path, capsys, monkeypatch):
    """--baseline adds the all-ones rows: pixel_f1 = mean(2a / (1 + a)) over the edited images."""
    from deal.baselines import BASELINES
    from deal.data.discover import discover_records
    from deal.data.io import read_mask
    from tests.conftest import require_shared

    root = require_shared("fixtures", "CocoGlide")

    class Everything:
        name, sha256, device = "ones", None, "cpu"
        threshold, image_thresholds, max_pixels = 0.5, (0.5, 0.5), 10**8

        def predict(self, image):
            from deal.inference.detection import Detection

            return Detection.from_heatmap(np.ones(image.shape[:2], np.float32), 0.5)

        def predict_many(self, images, batch_size=8):
            return [self.predict(im) for im in images]

    import deal.inference.detector as detector_module

    monkeypatch.setattr(detector_module.Detector, "load", classmethod(lambda cls, path=None, device="auto": Everything()))
    out = tmp_path / "bench"
    argv = ["benchmark", "--dataset", f"CocoGlide={root}", "--limit", "4", "--out", str(out)]
    assert main([*argv, "--baseline", "--baseline", "spectral-slope"]) == 0
    report = json.loads((out / "benchmark.json").read_text())
    floor, spectral = [r for r in report["results"] if r["perturbation"] == "baseline"]
    assert (floor["label"], spectral["label"]) == ("predict-everything", "spectral-slope")
    # the spectral cue has a lift on these 4 GLIDE inpaintings; predict-everything none
    assert spectral["metrics"]["pixel_auc_lift"] > 0.0 and floor["metrics"]["pixel_auc_lift"] == 0.0
    (clean,) = [r for r in report["results"] if r["perturbation"] == "none"]
    fractions = [read_mask(r.mask).mean() for r in discover_records(root)[:4] if r.label == 1]
    expected = float(np.mean([2 * a / (1 + a) for a in fractions]))
    assert floor["metrics"]["pixel_f1"] == pytest.approx(expected, abs=1e-9)
    assert clean["metrics"]["pixel_f1"] == pytest.approx(expected, abs=1e-9)  # the fake detector is all-ones too
    assert "predict-everything" in (out / "benchmark.md").read_text()
    assert BASELINES["predict-everything"](np.zeros((3, 5, 3), np.uint8))[0].shape == (3, 5)
    assert main([*argv, "--baseline", "nonsense"]) == 2
    assert "unknown baseline 'nonsense'; choose one of predict-everything, centre, ela" in capsys.readouterr().err


def test_benchmark_batches_are_deal_detects():
    """deal benchmark's default batch size is deal detect's (CLI and run_detection), so the maps are equal."""
    import argparse
    import inspect

    from deal.cli import benchmark as cli_benchmark
    from deal.cli import detect as cli_detect
    from deal.runs.folder import run_detection

    parser = argparse.ArgumentParser()
    cli_detect.add_arguments(parser)
    detect_default = parser.get_default("batch_size")
    assert detect_default == cli_benchmark.DEFAULT_BATCH_SIZE
    assert inspect.signature(run_detection).parameters["batch_size"].default == detect_default
    from deal.modeling.constants import DEFAULT_BATCH_SIZE

    assert DEFAULT_BATCH_SIZE == detect_default


def _with_their_originals(records, n):
    """The first ``n`` edits of the fixture and the records of their originals (real/), edits first."""
    edits = [r for r in records if r.label == 1][:n]
    by_image = {r.image: r for r in records if r.label == 0}
    return edits + [by_image[e.original] for e in edits]


def test_an_original_that_is_a_record_is_predicted_once_for_both_uses(cocoglide_records):
    """CoCoGlide's real/ images are records and the originals of the edits: one forward pass each serves the
    authentic image and the control (same file, same perturbation, same noise seed)."""
    records = _with_their_originals(cocoglide_records, 2)
    batch = GrayBatch()
    perts = [Perturbation("noise", 5)]
    report = run_benchmark(batch, {"c": records}, perts, batch_size=4, seed=3)
    assert batch.calls == [4, 4]  # one window of 4 per perturbation, no window of originals
    for row, p in zip(report["results"], [Perturbation("none"), *perts]):
        assert (row["n_images"], row["n_predicted"], row["n_errors"]) == (4, 4, 0)
        direct = LocalizationMetrics(convention=MetricConvention())
        maps = {r.image: gray_predictor(p.apply(read_image(r.image), seed=image_seed(3, r.name))) for r in records}
        for r in records:
            gt = read_ground_truth(r)
            control = torch.from_numpy(maps[r.original][0]) if r.original else None
            direct.update([torch.from_numpy(maps[r.image][0])], [torch.from_numpy(gt)], [r.label], [maps[r.image][1]], controls=[control])
        m = row["metrics"]
        assert (m["n_edited"], m["n_authentic"], m["n_control"]) == (2, 2, 2)
        expected = direct.compute()
        assert {k: m[k] for k in METRIC_KEYS} == pytest.approx({k: expected[k] for k in METRIC_KEYS}, nan_ok=True)


def test_originals_that_are_not_records_count_as_authentic_images(cocoglide_records):
    """A manifest's original column (here: edits whose real/ records are left out) gives the image-level
    metrics their authentic images: one forward pass per original serves the control and image AUC."""
    edits = [r for r in cocoglide_records if r.label == 1][:3]
    batch = GrayBatch()
    m = run_benchmark(batch, {"c": edits}, batch_size=3)["results"][0]["metrics"]
    assert batch.calls == [3, 3]  # the window of edits, then their 3 originals once
    assert (m["n_edited"], m["n_authentic"], m["n_control"]) == (3, 3, 3)
    scores = [gray_predictor(read_image(p))[1] for p in [*(e.image for e in edits), *(e.original for e in edits)]]
    from sklearn.metrics import roc_auc_score

    assert m["image_auc"] == pytest.approx(roc_auc_score([1, 1, 1, 0, 0, 0], scores))
    assert 0.0 <= m["false_alarm_area"] <= 1.0
    off = run_benchmark(GrayBatch(), {"c": edits}, control=False)["results"][0]["metrics"]
    assert off["n_authentic"] == 0 and np.isnan(off["image_auc"])


@pytest.mark.filterwarnings("ignore:The ``compute`` method")
def test_a_failing_baseline_never_costs_the_detectors_results(tmp_path, capsys, monkeypatch, cocoglide):
    """A baseline that raises on every image: the detector's rows are written, each failed image is an error
    row naming the baseline, the other baselines still run, and the exit code says something failed."""
    import deal.baselines as baselines
    import deal.inference.detector as detector_module
    from deal.inference.detection import Detection

    class Everything:
        name, sha256, device = "ones", None, "cpu"
        threshold, image_thresholds, max_pixels = 0.5, (0.5, 0.5), 10**8

        def predict_many(self, images, batch_size=8):
            return [Detection.from_heatmap(np.ones(im.shape[:2], np.float32), 0.5) for im in images]

    def broken(image):
        raise FloatingPointError("log of a negative moment")

    monkeypatch.setattr(detector_module.Detector, "load", classmethod(lambda cls, path=None, device="auto": Everything()))
    monkeypatch.setitem(baselines.BASELINES, "spectral-kurtosis", broken)
    out = tmp_path / "bench"
    argv = ["benchmark", "--dataset", f"CocoGlide={cocoglide}", "--limit", "2", "--out", str(out), "--bootstrap", "0"]
    assert main([*argv, "--baseline", "spectral-kurtosis", "--baseline"]) == 1
    report = json.loads((out / "benchmark.json").read_text())
    rows = [(r["label"], r["n_images"], r["n_errors"]) for r in report["results"]]
    assert rows == [("none", 4, 0), ("spectral-kurtosis", 0, 4), ("predict-everything", 4, 0)]
    assert [(e["run"], e["error"]) for e in report["errors"]] == [
        ("spectral-kurtosis", "the predictor failed: FloatingPointError: log of a negative moment")
    ] * 4  # the 2 edits and their 2 originals
    assert "## Errors" in (out / "benchmark.md").read_text()
    assert "4 image(s) failed" in capsys.readouterr().err


def test_cli_manifest_with_an_original_column_scores_the_originals_as_authentic(
    tmp_path, monkeypatch, cocoglide_records
):
    """deal benchmark on a manifest whose edits name their originals: image AUC and bAcc are defined (the
    originals are the authentic images), from one forward pass per original that also serves the control."""
    import deal.inference.detector as detector_module
    from deal.inference.detection import Detection

    windows = []

    class Gray:
        name, sha256, device = "gray", None, "cpu"
        threshold, image_thresholds, max_pixels = 0.5, (0.5, 0.5), 10**8

        def predict_many(self, images, batch_size=8):
            windows.append(len(images))
            return [Detection.from_heatmap(gray_predictor(im)[0], 0.5) for im in images]

    monkeypatch.setattr(detector_module.Detector, "load", classmethod(lambda cls, path=None, device="auto": Gray()))
    edits = [r for r in cocoglide_records if r.label == 1][:3]
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(
        "image,mask,label,original\n" + "".join(f"{e.image},{e.mask},1,{e.original}\n" for e in edits), encoding="utf-8"
    )
    out = tmp_path / "bench"
    assert main(["benchmark", "--dataset", f"M={manifest}", "--out", str(out), "--bootstrap", "0"]) == 0
    assert windows == [3, 3]  # the 3 edits, then their 3 originals once
    (row,) = json.loads((out / "benchmark.json").read_text())["results"]
    m = row["metrics"]
    assert (m["n_edited"], m["n_authentic"], m["n_control"]) == (3, 3, 3) and row["n_predicted"] == 6
    from sklearn.metrics import roc_auc_score

    from deal.metrics.image_score import image_score

    scores = [image_score(gray_predictor(read_image(p))[0]) for p in [*(e.image for e in edits), *(e.original for e in edits)]]
    assert m["image_auc"] == pytest.approx(roc_auc_score([1, 1, 1, 0, 0, 0], scores))


def test_an_unreadable_original_is_an_error_row_and_its_edit_is_scored_without_control(cocoglide_records):
    from deal.data.errors import DatasetError

    records = _with_their_originals(cocoglide_records, 2)
    broken = records[2].image  # the original of the first edit, a record of the dataset

    def reader(path):
        if path == broken:
            raise DatasetError(f"cannot read image {path}: truncated")
        return read_image(path)

    report = run_benchmark(gray_predictor, {"c": records}, [Perturbation("jpeg", 80)], reader=reader, batch_size=4)
    assert [(e["run"], e["image"], e["error"]) for e in report["errors"]] == [
        (run, records[2].name, f"cannot read image {broken}: truncated") for run in ("none", "jpeg=80")
    ]
    for row in report["results"]:
        m = row["metrics"]
        assert (row["n_images"], row["n_errors"], m["n_edited"], m["n_authentic"], m["n_control"]) == (3, 1, 2, 1, 1)
