"""The one sample format every dataset in :mod:`deal.data` returns.

A :class:`Record` says where a sample lives on disk; a dataset turns it into a :class:`Sample`
dict. Before transforms the image is an ``HxWx3 uint8 RGB`` numpy array and the mask an
``HxW uint8`` array of {0, 1} (1 = edited). After the training transforms the image is a
``3xHxW float32`` tensor normalized with SAM's pixel mean/std and the mask a ``1xHxW float32``
tensor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict


@dataclass(frozen=True)
class Record:
    """One image of a localization dataset.

    Attributes:
        image: path of the image that is scored (the edited image, or an authentic one).
        mask: path of its mask (255/any value >127 = edited), or None for an authentic image.
        label: 1 edited, 0 authentic.
        name: unique, stable identifier (file stem, or relative path where stems collide).
        split: "train", "val", "test" or "" when the layout does not say.
        original: path of the unedited source image, where the dataset has one.
        tag: dataset-specific tag (DEAL-300K's ``qwen120``), or "".
    """

    image: str
    mask: str | None
    label: int
    name: str
    split: str = ""
    original: str | None = None
    tag: str = ""


class _SampleFields(TypedDict):
    image: Any  # HxWx3 uint8 numpy before transforms; 3xHxW float32 tensor after
    mask: Any  # HxW uint8 {0,1} numpy before transforms; 1xHxW float32 tensor after
    label: int  # 1 edited, 0 authentic
    name: str
    original_size: tuple[int, int]  # (height, width) of the image as stored on disk


class Sample(_SampleFields, total=False):
    # the unedited original of an edited image (HxWx3 uint8, or None), where asked for (validation's
    # objectness control: LocalizationDataset(originals=True))
    original: Any
