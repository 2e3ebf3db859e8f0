"""The torch Dataset over :class:`~deal.data.sample.Record` lists, and its DataLoader collate."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from deal.data.errors import DatasetError
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

    def _read(self, record: Record) -> tuple[np.ndarray, np.ndarray]:
        """The record's image and mask (zeros for an authentic image), as stored."""
        image = read_image(record.image)
        hw = (int(image.shape[0]), int(image.shape[1]))
        if record.mask is not None:
            return image, read_mask(record.mask, expected_hw=hw, image_path=record.image)
        return image, np.zeros(hw, dtype=np.uint8)

    def __getitem__(self, index: int) -> Sample:
        record = self.records[index]
        image, mask = self._read(record)
        hw = (int(image.shape[0]), int(image.shape[1]))
        if self.transform is not None:
            out = self.transform(image=image, mask=mask)
            image, mask = out["image"], out["mask"]
        sample = Sample(image=image, mask=mask, label=record.label, name=record.name, original_size=hw)
        if self.originals:
            sample["original"] = read_image(record.original) if record.label == 1 and record.original else None
        return sample


class PairedLocalizationDataset(LocalizationDataset):
    """Training data in which each edited image comes with its unedited original, augmented identically.

    Item ``i`` is a list of samples: the record's sample and, where the record is edited and has an
    ``original``, the original's sample with an all-zero mask (label 0), through the SAME augmentation draw
    (same crop, flips, JPEG quality, noise: the transform's ``original`` target, see
    :func:`deal.data.transforms.build_train_transform` with ``paired=True``). :func:`collate_pairs` puts both
    into one batch, so a model that fires on the same place in the edit and in its original pays for it in
    the loss: position and objects carry no label, only the edit's trace does.

    Args:
        records: the samples.
        transform: an albumentations ``Compose`` with an ``original`` image target (or None).
    """

    def __getitem__(self, index: int) -> list[Sample]:  # type: ignore[override]
        record = self.records[index]
        if record.label != 1 or not record.original:
            return [super().__getitem__(index)]
        image, mask = self._read(record)
        hw = (int(image.shape[0]), int(image.shape[1]))
        original = read_image(record.original)
        if original.shape != image.shape:
            raise DatasetError(
                f"{record.original}: the original is {original.shape[1]}x{original.shape[0]} but its edit "
                f"{record.image} is {image.shape[1]}x{image.shape[0]}"
            )
        if self.transform is not None:
            out = self.transform(image=image, mask=mask, original=original)
            image, mask, original = out["image"], out["mask"], out["original"]
        edit = Sample(image=image, mask=mask, label=1, name=record.name, original_size=hw)
        zero = np.zeros_like(mask)
        control = Sample(image=original, mask=zero, label=0, name=f"{record.name}#original", original_size=hw)
        return [edit, control]


def collate_pairs(items: Sequence[Sequence[Sample]]) -> dict[str, Any]:
    """:func:`collate_samples` over the samples of :class:`PairedLocalizationDataset` items, flattened: an
    edit and its original always share a batch (adjacent rows)."""
    return collate_samples([sample for item in items for sample in item])


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
