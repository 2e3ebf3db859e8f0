"""Detector.replace: the one way to derive a detector, keeping every field it does not change."""

from __future__ import annotations

import inspect

import pytest
import torch

from deal.inference.detector import Detector
from deal.provenance import ProvenanceOptions


def fields_of(det: Detector) -> dict:
    names = [n for n in inspect.signature(Detector.__init__).parameters if n != "self"]
    return {name: getattr(det, name) for name in names}


@pytest.fixture
def unusual(detector) -> Detector:
    """The test detector with every field away from its default."""
    return Detector(
        detector.model,
        detector.info,
        "cpu",
        threshold=0.21,
        image_thresholds=(0.12, 0.71),
        tile=False,
        max_pixels=12_345,
        bundled=True,
        provenance=ProvenanceOptions(trust_anchors="PEM", enabled=False),
    )


def test_replace_changes_what_it_is_given_and_keeps_every_other_field(unusual):
    before = fields_of(unusual)
    assert set(before) == {
        "model", "info", "device", "threshold", "image_thresholds", "tile", "max_pixels", "bundled", "provenance"
    }
    derived = unusual.replace(threshold=0.4, image_thresholds=(0.3, 0.6))
    after = fields_of(derived)
    assert (after.pop("threshold"), after.pop("image_thresholds")) == (0.4, (0.3, 0.6))
    assert after == {k: v for k, v in before.items() if k not in ("threshold", "image_thresholds")}
    assert derived.model is unusual.model  # the same weights, not a copy
    assert fields_of(unusual) == before  # the original is left as it is
    assert fields_of(unusual.replace()) == before
    assert fields_of(unusual.replace(device="cpu")) == before and unusual.replace(device="cpu").model is unusual.model
    assert unusual.replace(threshold=None).threshold == unusual.info.threshold  # None: the file's, as in __init__


def test_replace_refuses_unknown_fields_and_is_the_only_way(unusual):
    with pytest.raises(TypeError, match="no such field colour"):
        unusual.replace(colour="red")
    with pytest.raises(ValueError, match="threshold must be in"):
        unusual.replace(threshold=2.0)
    assert not hasattr(Detector, "with_device")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a second device (CUDA)")
def test_replace_onto_another_device_copies_the_model(unusual):
    moved = unusual.replace(device="cuda")
    assert moved.device.type == "cuda" and next(moved.model.parameters()).device.type == "cuda"
    assert next(unusual.model.parameters()).device.type == "cpu"  # the original stays on the CPU
    back = moved.replace(device="cpu")
    assert {k: v for k, v in fields_of(back).items() if k != "model"} == {
        k: v for k, v in fields_of(unusual).items() if k != "model"
    }
