"""Generator-in-the-loop edits (``deal data synth --generator``): decoder round trip, exact masks, determinism."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from deal_data_tools.synth import SynthConfig, reproduce_example, synthesize_dataset
from deal_data_tools.synthesis.generator_edits import GENERATOR_EDIT_NAMES, apply_generator_edit
from deal_data_tools.synthesis.io import encode_png, read_mask, read_rgb
from deal_data_tools.synthesis.photos import sample_photos
from deal_data_tools.synthesis.taef2 import load_taef2

REPO_ROOT = Path(__file__).resolve().parents[2]
TAEF2_DIR = REPO_ROOT.parent / "shared" / "data" / "generators" / "taef2"

pytestmark = pytest.mark.skipif(not TAEF2_DIR.is_dir(), reason=f"TAEF2 not found at {TAEF2_DIR}")
PASTE_BACK = [op for op in GENERATOR_EDIT_NAMES if op != "full_regen"]
SIZE = 64


@pytest.fixture(scope="module")
def taef2():
    return load_taef2(TAEF2_DIR)


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    for name, photo in list(sample_photos())[:3]:
        (folder / f"{name}.png").write_bytes(encode_png(photo[:96, :96]))
    return folder


def _base_and_region() -> tuple[np.ndarray, np.ndarray]:
    base = np.ascontiguousarray(dict(sample_photos())["astronaut"][:SIZE, :SIZE])
    yy, xx = np.mgrid[:SIZE, :SIZE]
    region = (yy - 30) ** 2 / 18**2 + (xx - 34) ** 2 / 14**2 < 1
    return base, region


def test_regenerate_is_the_decoder_round_trip_pasted_into_the_region(taef2) -> None:
    base, region = _base_and_region()
    result = apply_generator_edit(
        base, region, "regenerate", np.random.default_rng(0), taef2, feather_prob=0.0
    )
    x = torch.from_numpy(base.copy()).permute(2, 0, 1)[None].float() / 255
    roundtrip = (taef2(x) * 255).round().clamp(0, 255).byte()[0].permute(1, 2, 0).numpy()
    # The generator saw only the region's box + margin (here the whole 64x64 image): the same pixels.
    assert np.array_equal(result.image[region], roundtrip[region])
    assert np.array_equal(result.image[~region], base[~region])
    assert result.name == "regenerate+hard"
    assert 3.0 < result.change < 40.0  # a round trip at ~27 dB changes pixels by a few grey levels


@pytest.mark.parametrize("op", PASTE_BACK)
@pytest.mark.parametrize("feather", [0.0, 1.0])
def test_paste_back_masks_mark_exactly_the_changed_pixels(taef2, op: str, feather: float) -> None:
    base, region = _base_and_region()
    donor = np.ascontiguousarray(dict(sample_photos())["coffee"][:80, :80])
    result = apply_generator_edit(
        base, region, op, np.random.default_rng(3), taef2, donor, feather_prob=feather
    )
    changed = np.any(result.image != base, axis=-1)
    assert np.array_equal(result.mask, region)
    assert not changed[~result.mask].any()  # nothing outside the mask moved
    assert changed[result.mask].mean() > 0.8  # and nearly every masked pixel did
    assert ("+feather" in result.name) == (feather == 1.0)


def test_full_regeneration_decodes_everything_but_marks_only_the_semantic_change(taef2) -> None:
    base, region = _base_and_region()
    result = apply_generator_edit(base, region, "full_regen", np.random.default_rng(5), taef2)
    assert result.name.startswith("full_regen:")
    # The mask is the changed latent cells (8x8 blocks) whose area is mostly inside the region.
    blocks = result.mask.reshape(8, 8, 8, 8).transpose(0, 2, 1, 3).reshape(64, 64)
    assert np.all(blocks.min(axis=1) == blocks.max(axis=1))
    assert abs(result.mask.mean() - region.mean()) < 0.05
    outside = np.abs(result.image.astype(int) - base)[~result.mask]
    assert 1.0 < outside.mean() < 15.0  # decoder traces everywhere, but no semantic change outside
    assert result.change > outside.mean()


@pytest.mark.slow  # runs synth with several worker counts: ~14 s
def test_same_seed_same_bytes_for_any_worker_count(photos: Path, tmp_path: Path) -> None:
    weights = dict.fromkeys(GENERATOR_EDIT_NAMES, 1.0)
    kwargs = {"seed": 7, "size": SIZE, "weights": weights, "generator": TAEF2_DIR, "progress": False}
    synthesize_dataset(photos, tmp_path / "w1", 6, workers=1, **kwargs)
    synthesize_dataset(photos, tmp_path / "w2", 6, workers=2, **kwargs)

    def hashes(root: Path) -> dict[str, str]:
        return {
            p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }

    first, second = hashes(tmp_path / "w1"), hashes(tmp_path / "w2")
    assert len(first) == 3 * 6 + 5 + 1 and first == second  # images, masks, records, 5 originals, manifest
    manifest = (tmp_path / "w1" / "manifest.csv").read_text()
    assert sum(op in manifest for op in GENERATOR_EDIT_NAMES) >= 3  # several operations drawn
    # reproduce_example recomputes an image exactly (before JPEG, the stored PNG's pixels)
    config = SynthConfig(size=SIZE, weights=weights, generator=str(TAEF2_DIR.resolve()))
    example = reproduce_example(photos, 0, seed=7, config=config)
    stored = sorted((tmp_path / "w1" / "images").glob("000000.*"))[0]
    if stored.suffix == ".png":
        assert np.array_equal(read_rgb(stored), example.image)
    assert np.array_equal(read_mask(tmp_path / "w1" / "masks" / "000000.png") > 0, example.mask > 0)


def test_generator_edits_need_a_generator() -> None:
    with pytest.raises(ValueError, match="need a generator"):
        SynthConfig(weights={"regenerate": 1.0})
