from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from deal.data import (
    DatasetError,
    LocalizationDataset,
    Record,
    build_train_transform,
    collate_samples,
    discover_records,
)


def test_fixture_samples_without_transform(deal_fixture):
    ds = LocalizationDataset(discover_records(deal_fixture))
    assert len(ds) == 6
    s = ds[0]
    assert s["name"] == "000000000009_qwen120" and s["label"] == 1
    assert s["image"].shape == (384, 512, 3) and s["image"].dtype == np.uint8
    assert s["mask"].shape == (384, 512) and s["mask"].dtype == np.uint8
    assert round(float(s["mask"].mean()), 3) == 0.041
    assert s["original_size"] == (384, 512)
    authentic = ds[3]
    assert authentic["label"] == 0 and authentic["mask"].sum() == 0


def test_dataloader_batches_training_crops(cocoglide_fixture):
    records = discover_records(cocoglide_fixture)[:3]
    loader = DataLoader(
        LocalizationDataset(records, build_train_transform(64)), batch_size=3, collate_fn=collate_samples
    )
    batch = next(iter(loader))
    assert batch["image"].shape == (3, 64, 64, 3) and batch["image"].dtype == torch.uint8
    assert batch["mask"].shape == (3, 64, 64) and batch["mask"].dtype == torch.uint8
    assert batch["label"].tolist() == [1, 1, 1]
    assert batch["name"] == [r.name for r in records]
    assert batch["original_size"] == [(256, 256)] * 3


def test_collate_keeps_different_sizes_as_lists_untouched(tmp_path, write_rgb, write_mask):
    write_rgb(tmp_path / "a.png", 16, 16)
    write_rgb(tmp_path / "b.png", 20, 40)
    write_mask(tmp_path / "b_m.png", 20, 40)
    records = [
        Record(str(tmp_path / "a.png"), None, 0, "a"),
        Record(str(tmp_path / "b.png"), str(tmp_path / "b_m.png"), 1, "b"),
    ]
    ds = LocalizationDataset(records)
    batch = collate_samples([ds[0], ds[1]])
    assert isinstance(batch["image"], list) and [tuple(t.shape) for t in batch["image"]] == [(16, 16, 3), (20, 40, 3)]
    np.testing.assert_array_equal(batch["image"][1].numpy(), ds[1]["image"])  # not a pixel changed
    assert int(batch["mask"][1].sum()) == int(ds[1]["mask"].sum()) and batch["original_size"] == [(16, 16), (20, 40)]


def test_mask_size_mismatch_names_both_files(tmp_path, write_rgb, write_mask):
    write_rgb(tmp_path / "img.png", 16, 20)
    write_mask(tmp_path / "msk.png", 16, 21)
    ds = LocalizationDataset([Record(str(tmp_path / "img.png"), str(tmp_path / "msk.png"), 1, "x")])
    with pytest.raises(DatasetError, match=r"msk.png is 21x16 .*img.png is 20x16"):
        ds[0]


def test_originals_for_the_objectness_control(deal_fixture):
    """originals=True: each edited record's unedited original (DEAL-300K's <coco>.jpg) decoded as its image
    would be, None for an authentic record; the collate keeps them as a list; never with a transform."""
    from deal.data.io import read_image

    records = discover_records(deal_fixture)
    ds = LocalizationDataset(records, originals=True)
    edited = next(i for i, r in enumerate(records) if r.label == 1 and r.original)
    authentic = next(i for i, r in enumerate(records) if r.label == 0)
    np.testing.assert_array_equal(ds[edited]["original"], read_image(records[edited].original))
    assert ds[authentic]["original"] is None and "original" not in LocalizationDataset(records)[edited]
    batch = collate_samples([ds[edited], ds[authentic]])
    assert batch["original"][1] is None and torch.equal(batch["original"][0], torch.from_numpy(ds[edited]["original"]))
    assert "original" not in collate_samples([LocalizationDataset(records)[edited]])
    with pytest.raises(ValueError, match="not with a training transform"):
        LocalizationDataset(records, build_train_transform(64), originals=True)
