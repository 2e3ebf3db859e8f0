"""The torch Dataset over :class:`~deal.data.sample.Record` lists, and its DataLoader collate."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from deal.data.io import read_image, read_mask
from deal.data.sample import Record, Sample


class LocalizationDataset(Dataset):
    """Reads each record's image and mask (zeros for an authentic image) into a :class:`Sample`.

    Args:
        records: the samples, e.g. from :func:`deal.data.discover_records`.
        transform: optional albumentations ``Compose`` called as ``transform(image=, mask=)``
            (see :mod:`deal.data.transforms`). ``image`` is HxWx3 uint8 and ``mask`` HxW uint8
            {0,1} numpy, with or without it.
        originals: also read each edited record's unedited ``original`` (where the dataset has one) into
            the sample's ``original`` (HxWx3 uint8, untransformed; None where there is none): the objectness
            control of validation. Not with a transform (a crop of the edit would not be a crop of it).

    A mask whose size differs from its image raises :class:`~deal.data.errors.DatasetError`
    naming both files.
    """

    def __init__(
        self,
        records: Sequence[Record],
        transform: Callable[..., dict[str, Any]] | None = None,
        *,
        originals: bool = False,
    ) -> None:
        if originals and transform is not None:
            raise ValueError("originals are read for whole-image validation, not with a training transform")
        self.records = list(records)
        self.transform = transform
        self.originals = originals

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> Sample:
        record = self.records[index]
        image = read_image(record.image)
        hw = (int(image.shape[0]), int(image.shape[1]))
        if record.mask is not None:
            mask = read_mask(record.mask, expected_hw=hw, image_path=record.image)
        else:
            mask = np.zeros(hw, dtype=np.uint8)
        if self.transform is not None:
            out = self.transform(image=image, mask=mask)
            image, mask = out["image"], out["mask"]
        sample = Sample(image=image, mask=mask, label=record.label, name=record.name, original_size=hw)
        if self.originals:
            sample["original"] = read_image(record.original) if record.label == 1 and record.original else None
        return sample


def _stack_or_list(arrays: list[Any]) -> torch.Tensor | list[torch.Tensor]:
    tensors = [torch.as_tensor(a) for a in arrays]
    if all(t.shape == tensors[0].shape for t in tensors):
        return torch.stack(tensors)
    return tensors


def collate_samples(samples: Sequence[Sample]) -> dict[str, Any]:
    """Batch samples for a ``DataLoader(collate_fn=collate_samples)``, without changing a pixel.

    Returns:
        ``image``: BxHxWx3 uint8 when every sample has the same size, else a list of B HxWx3 uint8
        tensors; ``mask``: BxHxW uint8 (or a list of HxW); ``label`` B int64; ``name`` list of B str;
        ``original_size`` list of B ``(H, W)``; where the samples carry one, ``original``: a list of B
        HxWx3 uint8 tensors or None (LocalizationDataset's ``originals``). Nothing is padded or
        normalized here: the model's input pipeline (deal.modeling.input_pipeline) does that, for
        training, validation and inference alike.
    """
    batch = {
        "image": _stack_or_list([s["image"] for s in samples]),
        "mask": _stack_or_list([s["mask"] for s in samples]),
        "label": torch.tensor([int(s["label"]) for s in samples], dtype=torch.int64),
        "name": [s["name"] for s in samples],
        "original_size": [tuple(s["original_size"]) for s in samples],
    }
    if any("original" in s for s in samples):
        batch["original"] = [None if s.get("original") is None else torch.as_tensor(s["original"]) for s in samples]
    return batch
