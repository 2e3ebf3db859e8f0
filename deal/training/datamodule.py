"""The LightningDataModule: any dataset deal.data can discover, albumentations training crops,
whole-image validation, loaders that keep a GPU fed (workers, pinned memory, persistent workers).

Defaults suit the machine: workers from the CPU count, pinned memory only when training on CUDA, the
training crop from the data's image sizes. Under DDP, validation gives each image to exactly one process
(no padding duplicates), so the metrics reduced across processes equal one process's over the whole set.
"""

from __future__ import annotations

import os
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, RandomSampler

from deal.data.dataset import LocalizationDataset, PairedLocalizationDataset, collate_pairs, collate_samples
from deal.data.sample import Record
from deal.data.transforms import build_train_transform
from deal.modeling.policies import get_policy
from deal.training.defaults import TRAIN_SPLIT, VAL_SPLIT
from deal.training.records import find_records


class LocalizationDataModule(L.LightningDataModule):
    """Training and validation data.

    Args:
        train: dataset paths for training (any layout deal.data.discover_records detects); one path
            or a list.
        val: dataset paths for validation, one or a list (default: the `val` split of `train`).
        train_split: split of `train` to use ("" = all records).
        val_split: split of `val` (or of `train` when `val` is empty).
        crop_size: training crop side (crops of at most crop_size, never resampled). None: the model's
            input policy decides (deal.modeling.policies: native, the smaller of image_size and the
            smallest training image side, a multiple of 16, looking at the first 256 records; sam, whole
            images, resized by the model's preprocessing).
        policy: the model's input policy (linked to model.config.input_policy).
        image_size: the model's image size (linked to model.config.image_size).
        batch_size, val_batch_size, num_workers, pin_memory, persistent_workers: loader settings.
            num_workers None: min(8, CPU count - 1) (0 on a 1-core machine); pin_memory None: only
            when the trainer runs on CUDA.
        hflip, vflip: random flips.
        jpeg_quality: (min, max) JPEG re-compression quality of training images, or None.
        jpeg_p, blur, noise, downscale: probabilities of the robustness augmentations.
        limit_val: keep at most this many validation images (0 = all).
        paired_originals: train on pairs: each edited training image whose record has an ``original`` comes
            with that original (all-zero target), augmented with the same draw and in the same batch
            (deal.data.dataset.PairedLocalizationDataset): firing on the same place in both costs loss, so
            position and objectness carry no label. ``batch_size`` then counts records (up to two images each).
        val_control: also read the unedited original of each edited validation image that has one (the
            dataset's original column: CoCoGlide real/, DEAL-300K originals, a manifest's `original`), so
            that validation scores the objectness control (val/pixel_auc_control, val/pixel_auc_lift:
            deal.metrics.localization). Costs one more forward per such image.
    """

    def __init__(
        self,
        train: list[str] | str,
        val: list[str] | str | None = None,
        train_split: str = TRAIN_SPLIT,
        val_split: str = VAL_SPLIT,
        crop_size: int | None = None,
        policy: str = "native",
        image_size: int = 1024,
        batch_size: int = 8,
        val_batch_size: int = 1,
        num_workers: int | None = None,
        pin_memory: bool | None = None,
        persistent_workers: bool = True,
        hflip: bool = True,
        vflip: bool = False,
        jpeg_quality: tuple[int, int] | None = None,
        jpeg_p: float = 0.5,
        blur: float = 0.0,
        noise: float = 0.0,
        downscale: float = 0.0,
        limit_val: int = 0,
        val_control: bool = True,
        paired_originals: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        for key in ("train", "val"):  # one path or a list on the command line; a list in checkpoints
            if isinstance(self.hparams[key], str):
                self.hparams[key] = [self.hparams[key]]
        self.train_records: list[Record] = []
        self.val_records: list[Record] = []

    def load_records(self, stage: str | None = "fit") -> None:
        """Discovers the records (raises DatasetError naming the dataset and the fix) and resolves the
        automatic crop; deal train calls it before the trainer writes anything."""
        hp = self.hparams
        if stage in (None, "fit") and not self.train_records:
            self.train_records = find_records(hp.train, hp.train_split, "train", "train_split")
        if not self.val_records:
            self.val_records = find_records(hp.val or hp.train, hp.val_split, "val" if hp.val else "train", "val_split")
            if hp.limit_val:
                self.val_records = self.val_records[: hp.limit_val]
        if hp.crop_size is None:  # resolved once, recorded in the checkpoint's datamodule hyper-parameters
            hp.crop_size = get_policy(hp.policy, hp.image_size).training_crop(_smallest_side(self.train_records))

    def setup(self, stage: str | None = None) -> None:
        self.load_records(stage)

    def _workers(self) -> int:
        if self.hparams.num_workers is not None:
            return self.hparams.num_workers
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        return max(0, min(8, cpus - 1))

    def _pin_memory(self) -> bool:
        if self.hparams.pin_memory is not None:
            return self.hparams.pin_memory
        trainer = self.trainer
        device = getattr(getattr(trainer, "strategy", None), "root_device", None)
        return device is not None and device.type == "cuda"

    def _loader(
        self, dataset: LocalizationDataset, batch_size: int, shuffle: bool, sampler=None, collate_fn=collate_samples
    ) -> DataLoader:
        workers = self._workers()
        if shuffle:
            # Reshuffled per epoch from (seed, epoch): a run resumed at an epoch boundary sees the same
            # order as an uninterrupted one. Under DDP Lightning swaps in its DistributedSampler.
            sampler = EpochShuffleSampler(dataset, seed=_global_seed())
        return DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            drop_last=shuffle,
            num_workers=workers,
            pin_memory=self._pin_memory(),
            persistent_workers=self.hparams.persistent_workers and workers > 0,
            collate_fn=collate_fn,
            worker_init_fn=seed_transform_worker,
        )

    def train_dataloader(self) -> DataLoader:
        hp = self.hparams
        transform = build_train_transform(
            hp.crop_size,
            hflip=hp.hflip,
            vflip=hp.vflip,
            jpeg_quality=tuple(hp.jpeg_quality) if hp.jpeg_quality else None,
            jpeg_p=hp.jpeg_p,
            blur=hp.blur,
            noise=hp.noise,
            downscale=hp.downscale,
            paired=hp.paired_originals,
            # Reproducible augmentations: albumentations draws from the transform's own state, never from the
            # global seed; in loader workers seed_transform_worker reseeds it from the worker's torch seed.
            seed=_global_seed(),
        )
        if hp.paired_originals:
            dataset = PairedLocalizationDataset(self.train_records, transform)
            return self._loader(dataset, hp.batch_size, shuffle=True, collate_fn=collate_pairs)
        return self._loader(LocalizationDataset(self.train_records, transform), hp.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        # Whole images, no transform: the model's preprocessing (input policy) is applied in the
        # validation step, exactly as at inference.
        dataset = LocalizationDataset(self.val_records, originals=self.hparams.val_control)
        trainer = self.trainer
        sampler = None
        if trainer is not None and trainer.world_size > 1:
            # Each validation image on exactly one process (Lightning's default sampler pads with
            # duplicates): the metrics torchmetrics reduces across processes are the whole set's.
            from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler

            sampler = UnrepeatedDistributedSampler(
                dataset, num_replicas=trainer.world_size, rank=trainer.global_rank, shuffle=False
            )
        return self._loader(dataset, self.hparams.val_batch_size, shuffle=False, sampler=sampler)

    def state_dict(self) -> dict[str, Any]:
        return {}


def _global_seed() -> int:
    """The run's seed (Lightning's seed_everything sets PL_GLOBAL_SEED), 0 without one."""
    return int(os.environ.get("PL_GLOBAL_SEED", 0))


def seed_transform_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: seeds the dataset's albumentations transform from the worker's torch
    seed (the loader's base seed, drawn from the seeded global generator, plus the worker id), so that two
    runs with one seed, data and worker count draw the same augmentations."""
    info = torch.utils.data.get_worker_info()
    transform = getattr(info.dataset, "transform", None) if info is not None else None
    if transform is not None and hasattr(transform, "set_random_seed"):
        transform.set_random_seed(info.seed % 2**32)


class EpochShuffleSampler(RandomSampler):
    """A random permutation per epoch, drawn from (seed, epoch) alone; Lightning calls set_epoch."""

    def __init__(self, data_source, seed: int = 0) -> None:
        super().__init__(data_source)
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        yield from torch.randperm(len(self.data_source), generator=generator).tolist()


def _smallest_side(records: list[Record], limit: int = 256) -> int | None:
    """The smallest side among the first `limit` training images (headers only); None without records."""
    from PIL import Image

    sides = []
    for record in records[:limit]:
        with Image.open(record.image) as image:
            sides.append(min(image.size))
    return min(sides, default=None)
