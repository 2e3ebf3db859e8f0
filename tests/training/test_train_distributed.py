"""`deal train` on two processes (DDP over gloo, CPU), through the real console command: the command the
README gives for several GPUs, with --trainer.accelerator cpu."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from lightning.pytorch import Trainer

from deal.training.datamodule import LocalizationDataModule
from deal.training.module import MFPTModule
from tests.training.conftest import N_TRAIN, N_VAL, run_deal, tiny_config, write_config

pytestmark = pytest.mark.slow  # two DDP processes: ~30 s


@pytest.fixture(scope="module")
def ddp_run(tiny_dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    config = tiny_config(tiny_dataset, root)
    config["trainer"]["callbacks"] = [
        {"class_path": "tests.training.probe.RecordSamples", "init_args": {"out": str(root / "probe")}}
    ]
    cfg = write_config(root / "tiny_ddp.yaml", config)
    result = run_deal(
        ["train", "--config", str(cfg), "--trainer.accelerator", "cpu", "--trainer.devices", "2", "--trainer.strategy", "ddp"],
        cwd=root,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return root, result


def test_both_ranks_trained_on_disjoint_halves(ddp_run):
    root, _ = ddp_run
    rows = {r: [json.loads(line) for line in open(root / "probe" / f"rank{r}.jsonl")] for r in (0, 1)}
    steps_per_epoch = N_TRAIN // 2 // 4  # 16 images per process, batches of 4
    for r in (0, 1):
        assert {row["world_size"] for row in rows[r]} == {2}
        assert [row["step"] for row in rows[r]] == list(range(2 * steps_per_epoch))
    for epoch in (0, 1):
        seen = [{n for row in rows[r] if row["epoch"] == epoch for n in row["names"]} for r in (0, 1)]
        assert len(seen[0]) == len(seen[1]) == N_TRAIN // 2
        assert not seen[0] & seen[1]
        assert len(seen[0] | seen[1]) == N_TRAIN  # together, the whole training split, each image once
    (final,) = root.rglob("final.ckpt")
    assert torch.load(final, map_location="cpu", weights_only=True)["global_step"] == 2 * steps_per_epoch


def test_exactly_one_set_of_checkpoints(ddp_run):
    root, result = ddp_run
    ckpts = sorted(p.relative_to(root) for p in root.rglob("*.ckpt"))
    assert len(ckpts) == 3 and len({p.parent for p in ckpts}) == 1, ckpts
    assert sorted(p.name.split("-")[0] for p in ckpts) == ["best", "final.ckpt", "last.ckpt"]
    assert len(list((root / "runs" / "tiny").iterdir())) == 1  # one version folder
    assert result.stdout.count("final checkpoint:") == 1


def test_ddp_validation_f1_equals_one_process_over_the_whole_set(ddp_run, tiny_dataset):
    root, _ = ddp_run
    (metrics,) = root.rglob("metrics.csv")
    with open(metrics) as f:
        logged = [{k: float(v) for k, v in r.items() if k.startswith("val/") and v} for r in csv.DictReader(f) if r.get("val/pixel_f1")]
    assert len(logged) == 2  # one validation per epoch
    (final,) = root.rglob("final.ckpt")  # the weights of the last validation (it ends the last epoch)
    module = MFPTModule.load_from_checkpoint(final, map_location="cpu", weights_only=True)
    data = LocalizationDataModule(train=[str(tiny_dataset)], val_batch_size=1, num_workers=0)
    trainer = Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False, enable_model_summary=False)
    (single,) = trainer.validate(module, datamodule=data, verbose=False)
    assert len(data.val_records) == N_VAL
    print(f"DDP {logged[-1]}\none process {single}")
    for key in ("val/pixel_f1", "val/pixel_f1_best", "val/pixel_iou", "val/pixel_auc", "val/false_alarm_area"):
        assert abs(logged[-1][key] - single[key]) < 1e-6, key
    assert 0.0 < single["val/pixel_f1"] < 1.0 and 0.0 < single["val/pixel_auc"] < 1.0
