"""The objectness control in training validation: where a validation record has an unedited original, the
Lightning module's validation step runs the original through the same input pipeline and scores its map
against the edit's mask, logging val/pixel_auc_control and val/pixel_auc_lift; on the CoCoGlide fixture the
numbers are deal benchmark's for the same detector and images."""

from __future__ import annotations

import csv

import cv2
import lightning as L
import numpy as np
import pytest
import torch

from deal.data.discover import discover_records
from deal.data.io import read_image, read_mask
from deal.metrics.convention import MetricConvention
from deal.metrics.localization import LocalizationMetrics
from deal.modeling.config import ModelConfig
from deal.modeling.input_policy import resize_map
from deal.training.datamodule import LocalizationDataModule
from deal.training.module import MFPTModule
from tests.conftest import require_shared

SIZE = 64  # the tiny model's image_size


def tiny_module(seed: int = 0, policy: str = "native") -> MFPTModule:
    torch.manual_seed(seed)
    config = ModelConfig(encoder="tiny", image_size=SIZE, input_policy=policy, train_encoder=True)
    return MFPTModule(config=config, threshold=0.5).eval()


def validate(module: MFPTModule, dm: LocalizationDataModule) -> dict[str, float]:
    trainer = L.Trainer(
        accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False,
    )
    (logged,) = trainer.validate(module, datamodule=dm, verbose=False)
    return logged


def write_pairs(root, *, same: bool) -> list:
    """Three edited images (a smooth re-rendered region in a camera-noisy texture) with their originals, and
    one authentic image, at the model's size. The third original is stored 1.5x larger (tiled, as deal detect
    tiles it; its map is brought to the mask's size).
    same=True: each original is a copy of its edit (the control is then the edit itself)."""
    rng = np.random.default_rng(3)
    rows = []
    for i in range(4):
        base = cv2.resize(rng.normal(0, 1, (8, 8, 3)).astype(np.float32), (SIZE, SIZE), interpolation=cv2.INTER_CUBIC)
        base = 128 + 40 * base
        original = np.clip(base + rng.normal(0, 9, base.shape), 0, 255).astype(np.uint8)
        mask = np.zeros((SIZE, SIZE), np.uint8)
        edited = i < 3
        if edited:
            mask[12 + 6 * i : 36 + 6 * i, 10:44] = 1
        image = np.where(mask[..., None] == 1, np.clip(cv2.GaussianBlur(base, (0, 0), 1.5), 0, 255), original)
        image = image.astype(np.uint8)
        cv2.imwrite(str(root / f"img{i}.png"), image[..., ::-1])
        cv2.imwrite(str(root / f"img{i}.mask.png"), mask * 255)
        row = {"image": f"img{i}.png", "mask": f"img{i}.mask.png", "label": int(edited), "split": "val", "original": ""}
        if edited:
            stored = image if same else original
            if i == 2 and not same:
                stored = cv2.resize(stored, (3 * SIZE // 2,) * 2, interpolation=cv2.INTER_LINEAR)
            cv2.imwrite(str(root / f"orig{i}.png"), stored[..., ::-1])
            row["original"] = f"orig{i}.png"
        rows.append(row)
    with open(root / "manifest.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return discover_records(root / "manifest.csv", "val")


def reference(module: MFPTModule, records) -> dict[str, float]:
    """The control computed by hand: each image and each original through the module's input pipeline, the
    original's map at the mask's size, one LocalizationMetrics as validation's (exact, p > 0.5)."""
    metrics = LocalizationMetrics(threshold=0.5)
    for r in records:
        image = read_image(r.image)
        mask = torch.from_numpy(read_mask(r.mask)) if r.mask else torch.zeros(image.shape[:2], dtype=torch.uint8)
        with torch.no_grad():
            (probs,) = module.pipeline.heatmaps([image], module, batch_size=8, device=module.device)
            control = None
            if r.label == 1 and r.original:
                (ctrl,) = module.pipeline.heatmaps([read_image(r.original)], module, batch_size=8, device=module.device)
                control = resize_map(torch.from_numpy(ctrl), tuple(mask.shape))
        metrics.update([torch.from_numpy(probs)], [mask], torch.tensor([r.label]), controls=[control])
    return metrics.compute()


def test_validation_logs_the_control_and_the_lift_of_the_originals(tmp_path):
    records = write_pairs(tmp_path, same=False)
    assert sum(bool(r.original) for r in records) == 3
    module = tiny_module()
    dm = LocalizationDataModule(train=[], val=str(tmp_path / "manifest.csv"), val_batch_size=2, num_workers=0)
    logged = validate(module, dm)
    want = reference(module, records)
    assert logged["val/n_control"] == 3 and want["n_control"] == 3
    for key in ("pixel_auc", "pixel_auc_control", "pixel_auc_lift", "pixel_f1_best_control", "pixel_f1_best_lift"):
        assert logged[f"val/{key}"] == pytest.approx(want[key], abs=1e-6), key
    # every edited image has an original: the mean lift is the mean AUC minus the mean control
    assert logged["val/pixel_auc_lift"] == pytest.approx(logged["val/pixel_auc"] - logged["val/pixel_auc_control"], abs=1e-6)
    assert logged["val/pixel_auc_control"] != pytest.approx(logged["val/pixel_auc"], abs=1e-3)
    # the predict-everything floor is logged beside the control, over the same images: mean 2a / (1 + a)
    fractions = [read_mask(r.mask).mean() for r in records if r.label == 1]
    floor = float(np.mean([2 * a / (1 + a) for a in fractions]))
    assert logged["val/pixel_f1_floor"] == pytest.approx(floor, abs=1e-6)


def test_an_original_equal_to_its_edit_has_zero_lift_and_none_logs_no_control(tmp_path):
    (tmp_path / "same").mkdir()
    write_pairs(tmp_path / "same", same=True)
    module = tiny_module()
    dm = LocalizationDataModule(train=[], val=str(tmp_path / "same" / "manifest.csv"), num_workers=0)
    logged = validate(module, dm)
    assert logged["val/pixel_auc_control"] == logged["val/pixel_auc"] and logged["val/pixel_auc_lift"] == 0.0
    assert logged["val/pixel_f1_best_lift"] == 0.0
    off = LocalizationDataModule(
        train=[], val=str(tmp_path / "same" / "manifest.csv"), num_workers=0, val_control=False
    )
    logged = validate(module, off)
    assert logged["val/n_control"] == 0 and "val/pixel_auc_control" not in logged and "val/pixel_auc_lift" not in logged
    assert logged["val/pixel_auc"] == pytest.approx(reference(module, discover_records(tmp_path / "same" / "manifest.csv", "val"))["pixel_auc"], abs=1e-6)


def test_validation_control_on_cocoglide_equals_deal_benchmark(tmp_path):
    """The control is one definition: on real CoCoGlide edits and their real/ originals, validation's
    val/pixel_auc_control and val/pixel_auc_lift are deal benchmark's for the same detector (its file)."""
    from deal.evaluation.detector_benchmark import benchmark_detector
    from deal.inference.detector import Detector
    from deal.modeling.detector_file import save_detector

    root = require_shared("fixtures", "CocoGlide")
    records = [r for r in discover_records(root) if r.label == 1 and r.original][:3]
    assert len(records) == 3
    module = tiny_module(seed=1, policy="sam")  # whole images resized to the model: one forward each
    # one validation batch = one deal benchmark window (the same batches of model inputs: the same maps)
    dm = LocalizationDataModule(train=[], val=str(root), val_split="", num_workers=0, val_batch_size=len(records))
    dm.val_records = records
    logged = validate(module, dm)
    path = save_detector(tmp_path / "tiny.safetensors", module.model, name="tiny", threshold=0.5)
    detector = Detector.load(path, "cpu")
    # deal benchmark's own convention (exact best F1 and AUC): validation logs the same numbers
    report, _ = benchmark_detector(detector, {"cocoglide": records}, convention=MetricConvention(bootstrap=0))
    bench = report["results"][0]["metrics"]
    assert bench["n_control"] == logged["val/n_control"] == 3
    for key in ("pixel_auc", "pixel_auc_control", "pixel_auc_lift", "pixel_f1_best", "pixel_f1_best_lift"):
        assert logged[f"val/{key}"] == pytest.approx(bench[key], abs=1e-6), key
