"""Datasets for edit localization: layout loaders -> :class:`Record` lists -> :class:`Sample` dicts.

``from deal.data import discover_records, LocalizationDataset, build_train_transform``. The
loaders and readers import only numpy and Pillow; the Dataset (torch) and the transforms
(albumentations, ~2 s to import) load on first use, so ``deal --help`` and the data tools stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from deal.data.benco import load_benco_json
from deal.data.cocoglide import load_cocoglide
from deal.data.deal300k import Deal300kScan, load_deal300k, scan_deal300k
from deal.data.discover import DATASET_LAYOUTS, detect_layout, discover_records, filter_split
from deal.data.errors import DatasetError
from deal.data.generic import load_image_mask_folder, load_manifest
from deal.data.io import MASK_THRESHOLD, read_image, read_mask
from deal.data.sample import Record, Sample

if TYPE_CHECKING:
    from deal.data.dataset import LocalizationDataset, collate_samples
    from deal.data.transforms import build_train_transform

_LAZY = {
    "LocalizationDataset": "deal.data.dataset",
    "collate_samples": "deal.data.dataset",
    "build_train_transform": "deal.data.transforms",
}

__all__ = [
    "DATASET_LAYOUTS",
    "MASK_THRESHOLD",
    "DatasetError",
    "Deal300kScan",
    "LocalizationDataset",
    "Record",
    "Sample",
    "build_train_transform",
    "collate_samples",
    "detect_layout",
    "discover_records",
    "filter_split",
    "load_benco_json",
    "load_cocoglide",
    "load_deal300k",
    "load_image_mask_folder",
    "load_manifest",
    "read_image",
    "read_mask",
    "scan_deal300k",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'deal.data' has no attribute {name!r}")
