"""Paired training data: each edit with its unedited original (all-zero target), augmented with one draw."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from torch.utils.data import DataLoader

from deal.data import DatasetError, Record, build_train_transform
from deal.data.dataset import PairedLocalizationDataset, collate_pairs


def _triplet(folder, name: str, seed: int, size: tuple[int, int] = (48, 64)) -> Record:
    """An original photo-like texture, its edit (a square re-textured) and the mask."""
    rng = np.random.default_rng(seed)
    original = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    edit = original.copy()
    mask = np.zeros(size, np.uint8)
    mask[10:30, 20:44] = 255
    edit[mask > 0] = rng.integers(0, 256, (int((mask > 0).sum()), 3), dtype=np.uint8)
    paths = {k: folder / f"{name}_{k}.png" for k in ("edit", "orig", "mask")}
    Image.fromarray(edit).save(paths["edit"])
    Image.fromarray(original).save(paths["orig"])
    Image.fromarray(mask).save(paths["mask"])
    return Record(str(paths["edit"]), str(paths["mask"]), 1, name, original=str(paths["orig"]))


def test_each_edit_shares_a_batch_with_its_original_whose_target_is_all_zero(tmp_path):
    records = [_triplet(tmp_path, f"e{i}", i) for i in range(3)]
    records.append(Record(records[0].original, None, 0, "authentic"))  # an authentic record: itself only
    transform = build_train_transform(32, hflip=True, vflip=True, paired=True, seed=0)
    loader = DataLoader(PairedLocalizationDataset(records, transform), batch_size=4, collate_fn=collate_pairs)
    batch = next(iter(loader))
    assert batch["name"] == ["e0", "e0#original", "e1", "e1#original", "e2", "e2#original", "authentic"]
    assert batch["label"].tolist() == [1, 0, 1, 0, 1, 0, 0]
    for i in (1, 3, 5):
        assert int(batch["mask"][i].sum()) == 0  # the original's target: nothing edited
    for i in (0, 2, 4):  # the same crop and flips: outside the edit's mask, edit and original are one image
        edit, original, mask = batch["image"][i].numpy(), batch["image"][i + 1].numpy(), batch["mask"][i].numpy()
        assert 0 < mask.sum() < mask.size
        np.testing.assert_array_equal(edit[mask == 0], original[mask == 0])
        assert np.abs(edit[mask == 1].astype(int) - original[mask == 1]).mean() > 20


def test_one_seed_one_sequence_of_augmentations(tmp_path):
    records = [_triplet(tmp_path, f"e{i}", i) for i in range(2)]

    def crops(seed: int) -> list[np.ndarray]:
        ds = PairedLocalizationDataset(records, build_train_transform(24, vflip=True, paired=True, seed=seed))
        return [s["image"] for i in range(len(ds)) for s in ds[i]]

    a, b, c = crops(5), crops(5), crops(6)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_an_original_of_another_size_names_both_files(tmp_path):
    record = _triplet(tmp_path, "e", 0)
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(record.original)
    with pytest.raises(DatasetError, match="e_orig.png: the original is 20x20 but its edit .*e_edit.png is 64x48"):
        PairedLocalizationDataset([record])[0]
