from __future__ import annotations

import shutil

import pytest

from deal.data import DatasetError, load_cocoglide

IDS = (
    "100582 133778 164115 196843 226130 259625 288391 320632 350388 383621 415238 450439 488075 528980 559707 68765"
).split()


def test_fixture_pairs_by_coco_id_with_spaced_class_names(cocoglide_fixture):
    records = load_cocoglide(cocoglide_fixture)
    edited = [r for r in records if r.label == 1]
    real = [r for r in records if r.label == 0]
    assert (len(edited), len(real)) == (16, 16)
    assert sorted(r.name for r in edited) == sorted(f"glide_inpainting_val2017_{i}_up" for i in IDS)
    by_name = {r.name: r for r in records}
    phone = by_name["glide_inpainting_val2017_288391_up"]
    assert phone.mask == str(cocoglide_fixture / "mask" / "cell phone_288391_mask.png")
    assert phone.original == str(cocoglide_fixture / "real" / "cell phone_288391.png")
    assert (phone.tag, phone.split) == ("cell phone", "test")
    assert by_name["cell phone_288391"].mask is None and by_name["cell phone_288391"].split == "test"
    for r in edited:  # every mask and original carries the fake's id
        coco_id = r.name.split("_")[3]
        assert r.mask.endswith(f"_{coco_id}_mask.png") and r.original.endswith(f"_{coco_id}.png")
    assert len(load_cocoglide(cocoglide_fixture, include_authentic=False)) == 16


def test_missing_mask_is_an_error_naming_the_fake(tmp_path, cocoglide_fixture):
    for sub in ("fake", "mask", "real"):
        shutil.copytree(cocoglide_fixture / sub, tmp_path / sub)
    (tmp_path / "mask" / "hot dog_226130_mask.png").unlink()
    with pytest.raises(DatasetError, match="1 CoCoGlide fake image.*glide_inpainting_val2017_226130_up.png"):
        load_cocoglide(tmp_path)
    with pytest.raises(DatasetError, match="no CoCoGlide images"):
        load_cocoglide(tmp_path / "real")
