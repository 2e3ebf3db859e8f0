"""One preprocessing: the same image reaches the model as the identical tensor (bit for bit) through the
validation dataloader + training module and through the Detector, for each input policy; and each tile of
the Detector's tiled path equals what validation produces for that crop."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from deal.data.sample import Record
from deal.inference.detector import Detector
from deal.modeling.config import ModelConfig
from deal.modeling.tiling import TileBlender
from deal.training.datamodule import LocalizationDataModule
from deal.training.module import MFPTModule

TILE = 64


def _module(policy: str) -> MFPTModule:
    torch.manual_seed(0)
    config = ModelConfig(encoder="tiny", image_size=TILE, input_policy=policy, train_encoder=True)
    return MFPTModule(config=config).eval()


def _photo(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


class Capture:
    """Every tensor that enters the model."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.inputs: list[torch.Tensor] = []
        self.handle = model.register_forward_pre_hook(lambda m, args: self.inputs.append(args[0].detach().clone()))

    def take(self) -> list[torch.Tensor]:
        out, self.inputs = self.inputs, []
        return out


def _validation_inputs(module: MFPTModule, records: list[Record], capture: Capture) -> list[torch.Tensor]:
    dm = LocalizationDataModule(train=[], val_batch_size=len(records), num_workers=0, policy=module.config.input_policy)
    dm.val_records = records
    (batch,) = list(dm.val_dataloader())
    with torch.no_grad(), pytest.warns(UserWarning, match="self.log"):  # no Trainer attached here
        module.validation_step(batch, 0)
    return capture.take()


@pytest.mark.parametrize("policy", ["native", "sam"])
def test_validation_and_detector_feed_the_model_identical_tensors(policy, tmp_path):
    module = _module(policy)
    capture = Capture(module.model)
    images = [_photo(40, 56, 1), _photo(20, 64, 2)]  # different padded shapes: two validation groups
    records = []
    for i, image in enumerate(images):
        Image.fromarray(image).save(tmp_path / f"{i}.png")
        records.append(Record(str(tmp_path / f"{i}.png"), None, 0, str(i)))
    validation = _validation_inputs(module, records, capture)
    detector = Detector(module.model, None, "cpu")
    via_detector = []
    for image in images:
        detector.heatmaps([image])
        via_detector += capture.take()
    if policy == "sam":  # any sizes share one batch
        assert len(validation) == 1 and validation[0].shape == (2, 3, TILE, TILE)
        validation = list(validation[0].split(1))
    assert [t.shape for t in validation] == [t.shape for t in via_detector]
    for v, d in zip(validation, via_detector):
        assert torch.equal(v, d)


def test_each_tile_equals_validation_of_that_crop():
    module = _module("native")
    capture = Capture(module.model)
    image = _photo(150, 100, 3)
    detector = Detector(module.model, None, "cpu")
    assert detector.inference_mode_of(150, 100) == "tiled"
    detector.heatmaps([image], batch_size=1)
    tiles = capture.take()
    windows = list(TileBlender(150, 100, tile=TILE, overlap=detector.overlap).windows())
    assert len(tiles) == len(windows) == 6
    from deal.data.dataset import collate_samples

    for window, tile in zip(windows, tiles):
        crop = np.ascontiguousarray(image[window.y : window.y + window.h, window.x : window.x + window.w])
        sample = {"image": crop, "mask": np.zeros(crop.shape[:2], np.uint8), "label": 0, "name": "c",
                  "original_size": crop.shape[:2]}
        with torch.no_grad(), pytest.warns(UserWarning, match="self.log"):
            module.validation_step(collate_samples([sample]), 0)
        (validated,) = capture.take()
        assert torch.equal(validated, tile)
