"""The LightningDataModule: any dataset deal.data can discover, albumentations training crops,
native-resolution validation, loaders that keep a GPU fed (workers, pinned memory, persistent workers)."""

from __future__ import annotations

from typing import Any

import lightning as L
from torch.utils.data import DataLoader

from deal.data.dataset import LocalizationDataset, collate_samples
from deal.data.discover import discover_records
from deal.data.sample import Record
from deal.data.transforms import build_eval_transform, build_train_transform


class LocalizationDataModule(L.LightningDataModule):
    """Training and validation data.

    Args:
        train: dataset paths for training (any layout deal.data.discover_records detects).
        val: dataset paths for validation (default: the `val` split of `train`).
        train_split: split of `train` to use ("" = all records).
        val_split: split of `val` (or of `train` when `val` is empty).
        crop_size: training crop side (native policy) or resize side (sam policy).
        policy: "native" (pad + crop, no resampling) or "sam" (longest side to crop_size, pad).
        val_size: validation resize side for the sam policy (None: crop_size); native validation uses
            the whole image, padded to a multiple of 16.
        batch_size, val_batch_size, num_workers, pin_memory, persistent_workers: loader settings.
        hflip, vflip: random flips.
        jpeg_quality: (min, max) JPEG re-compression quality of training images, or None.
        jpeg_p, blur, noise, downscale: probabilities of the robustness augmentations.
        limit_val: keep at most this many validation images (0 = all).
    """

    def __init__(
        self,
        train: list[str],
        val: list[str] | None = None,
        train_split: str = "train",
        val_split: str = "val",
        crop_size: int = 512,
        policy: str = "native",
        val_size: int | None = None,
        batch_size: int = 8,
        val_batch_size: int = 1,
        num_workers: int = 4,
        pin_memory: bool = True,
        persistent_workers: bool = True,
        hflip: bool = True,
        vflip: bool = False,
        jpeg_quality: tuple[int, int] | None = None,
        jpeg_p: float = 0.5,
        blur: float = 0.0,
        noise: float = 0.0,
        downscale: float = 0.0,
        limit_val: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.train_records: list[Record] = []
        self.val_records: list[Record] = []

    def _records(self, paths: list[str], split: str) -> list[Record]:
        records: list[Record] = []
        for path in paths:
            records += discover_records(path, split or None)
        return records

    def setup(self, stage: str | None = None) -> None:
        hp = self.hparams
        if stage in (None, "fit") and not self.train_records:
            self.train_records = self._records(list(hp.train), hp.train_split)
        if not self.val_records:
            self.val_records = self._records(list(hp.val or hp.train), hp.val_split)
            if hp.limit_val:
                self.val_records = self.val_records[: hp.limit_val]

    def _loader(self, dataset: LocalizationDataset, batch_size: int, shuffle: bool) -> DataLoader:
        workers = self.hparams.num_workers
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle,
            drop_last=shuffle,
            num_workers=workers,
            pin_memory=self.hparams.pin_memory,
            persistent_workers=self.hparams.persistent_workers and workers > 0,
            collate_fn=collate_samples,
        )

    def train_dataloader(self) -> DataLoader:
        hp = self.hparams
        transform = build_train_transform(
            hp.crop_size,
            policy=hp.policy,
            hflip=hp.hflip,
            vflip=hp.vflip,
            jpeg_quality=tuple(hp.jpeg_quality) if hp.jpeg_quality else None,
            jpeg_p=hp.jpeg_p,
            blur=hp.blur,
            noise=hp.noise,
            downscale=hp.downscale,
        )
        return self._loader(LocalizationDataset(self.train_records, transform), hp.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        hp = self.hparams
        size = None if hp.policy == "native" else (hp.val_size or hp.crop_size)
        transform = build_eval_transform(size, hp.policy)
        return self._loader(LocalizationDataset(self.val_records, transform), hp.val_batch_size, shuffle=False)

    def state_dict(self) -> dict[str, Any]:
        return {}
