"""TAEF2 (deal_data_tools.synthesis.taef2): exact loading of the shipped state dicts, checksums, round trip."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from deal_data_tools.synthesis.taef2 import SHA256, GeneratorError, load_taef2
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[2]
TAEF2_DIR = REPO_ROOT.parent / "shared" / "data" / "generators" / "taef2"
KODIM01 = REPO_ROOT.parent / "shared" / "data" / "natural" / "Kodak" / "all" / "kodim01.png"

needs_taef2 = pytest.mark.skipif(not TAEF2_DIR.is_dir(), reason=f"TAEF2 not found at {TAEF2_DIR}")


@pytest.fixture(scope="module")
def taef2():
    return load_taef2(TAEF2_DIR)


@needs_taef2
def test_loads_the_shipped_state_dicts_exactly(taef2) -> None:
    for name, part in (("taef2_encoder.pth", taef2.encoder), ("taef2_decoder.pth", taef2.decoder)):
        shipped = torch.load(TAEF2_DIR / name, map_location="cpu", weights_only=True)
        ours = part.state_dict()
        assert list(ours) == list(shipped)  # same keys, same order: the layer list of SOURCE.txt
        assert all(torch.equal(ours[k], shipped[k]) for k in shipped)
    assert sum(p.numel() for p in taef2.encoder.parameters()) == 1_338_528  # "1.3M parameters each way"
    assert sum(p.numel() for p in taef2.decoder.parameters()) == 1_338_499


@needs_taef2
def test_round_trip_of_a_real_photo(taef2) -> None:
    """SOURCE.txt: kodim01 (768x512) round trip 27.18 dB; its 256x256 top-left corner, measured here: 27.68 dB."""
    if not KODIM01.is_file():
        pytest.skip("Kodak kodim01 not found")
    photo = np.asarray(Image.open(KODIM01).convert("RGB"))[:256, :256]
    x = torch.from_numpy(photo.copy()).permute(2, 0, 1)[None].float() / 255
    with torch.inference_mode():
        latents = taef2.encode(x)
        y = taef2.decode(latents)
    assert latents.shape == (1, 32, 32, 32)
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0
    y8 = (y * 255).round()
    psnr = 10 * torch.log10(255.0**2 / ((y8 - x * 255) ** 2).mean())
    assert 27.4 < float(psnr) < 28.0


def test_missing_folder_and_file_are_one_sentence_errors(tmp_path: Path) -> None:
    with pytest.raises(GeneratorError, match="generator folder not found"):
        load_taef2(tmp_path / "absent")
    with pytest.raises(GeneratorError, match=r"taef2_encoder\.pth: file not found"):
        load_taef2(tmp_path)


@needs_taef2
def test_checksum_mismatch_is_refused(tmp_path: Path) -> None:
    for name in SHA256:
        shutil.copy(TAEF2_DIR / name, tmp_path / name)
    with open(tmp_path / "taef2_decoder.pth", "ab") as f:
        f.write(b"\0")
    with pytest.raises(GeneratorError, match=r"taef2_decoder\.pth: sha256 .* differs"):
        load_taef2(tmp_path)


def test_synth_cli_exits_2_without_the_generator(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from deal.cli.main import main

    src = tmp_path / "photos"
    src.mkdir()
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(src / "a.png")
    code = main(["data", "synth", "--src", str(src), "--out", str(tmp_path / "out"), "--n", "1",
                 "--generator", str(tmp_path / "nowhere")])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "generator folder not found" in err and "Traceback" not in err
