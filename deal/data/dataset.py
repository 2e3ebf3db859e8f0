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
            (see :mod:`deal.data.transforms`); without it, ``image`` is HxWx3 uint8 and ``mask``
            HxW uint8 {0,1} numpy.

    A mask whose size differs from its image raises :class:`~deal.data.errors.DatasetError`
    naming both files.
    """

    def __init__(
        self, records: Sequence[Record], transform: Callable[..., dict[str, Any]] | None = None
    ) -> None:
        self.records = list(records)
        self.transform = transform

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
        return Sample(image=image, mask=mask, label=record.label, name=record.name, original_size=hw)


def _as_chw(x: Any, is_mask: bool) -> torch.Tensor:
    t = torch.as_tensor(x)
    if isinstance(x, np.ndarray):  # untransformed numpy: HxWx3 image / HxW mask -> CxHxW
        t = t.permute(2, 0, 1) if t.ndim == 3 and not is_mask else t.unsqueeze(0) if t.ndim == 2 else t
    return t


def _pad_stack(tensors: list[torch.Tensor]) -> torch.Tensor:
    h = max(t.shape[-2] for t in tensors)
    w = max(t.shape[-1] for t in tensors)
    if all(t.shape[-2:] == (h, w) for t in tensors):
        return torch.stack(tensors)
    out = tensors[0].new_zeros((len(tensors), tensors[0].shape[0], h, w))
    for i, t in enumerate(tensors):
        out[i, :, : t.shape[-2], : t.shape[-1]] = t
    return out


def collate_samples(samples: Sequence[Sample]) -> dict[str, Any]:
    """Batch samples for a ``DataLoader(collate_fn=collate_samples)``.

    Returns:
        ``image`` Bx3xHxW, ``mask`` Bx1xHxW (dtypes as produced: float32 after the transforms,
        uint8 without), ``label`` B int64, ``name`` list of B str, ``original_size`` list of B
        ``(H, W)``. Samples of different sizes (native-resolution evaluation) are zero-padded
        bottom/right to the largest ``H`` and ``W`` of the batch; each sample's own pixels stay
        top-left.
    """
    return {
        "image": _pad_stack([_as_chw(s["image"], is_mask=False) for s in samples]),
        "mask": _pad_stack([_as_chw(s["mask"], is_mask=True) for s in samples]),
        "label": torch.tensor([int(s["label"]) for s in samples], dtype=torch.int64),
        "name": [s["name"] for s in samples],
        "original_size": [tuple(s["original_size"]) for s in samples],
    }
