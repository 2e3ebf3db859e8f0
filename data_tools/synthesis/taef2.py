"""TAEF2: the tiny FLUX.2 autoencoder (TAESD by Ollin Boer Bohan, MIT), defined here, weights loaded exactly.

A real latent-diffusion decoder for ``deal data synth --generator DIR``: pixels that came out of it carry
the traces (learned 2x nearest upsampling + convolution stages) that latent-diffusion edits paste into a
photo. ``DIR`` holds ``taef2_encoder.pth`` and ``taef2_decoder.pth`` (plain state dicts) and ``LICENSE``;
each file is checked against the sha256 published in its ``SOURCE.txt`` (:data:`SHA256`). The layer list
follows that file: encoder RGB in [0, 1] (``Bx3xHxW``, H and W multiples of 8) -> raw latents
``Bx32x(H/8)x(W/8)``; decoder latents -> RGB, clamped to [0, 1]. Imports torch only.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
from torch import nn

__all__ = ["SHA256", "TAEF2", "GeneratorError", "load_taef2"]

SHA256: dict[str, str] = {
    "taef2_encoder.pth": "10a4e1021e89d7551eaf161352da8dbd0b1aa83872ae28b150c1df1ce2f147b6",
    "taef2_decoder.pth": "0a44a31e1ae59eb9dbf9359d24942fd3ef5928162c1800d97a28c61d51be0ab5",
}
LATENT_CHANNELS = 32
SCALE = 8  # pixels per latent cell, each way


class GeneratorError(ValueError):
    """The generator folder is missing, incomplete, or holds files with another checksum."""


def _conv(cin: int, cout: int, **kwargs: object) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1, **kwargs)  # type: ignore[arg-type]


class _Block(nn.Module):
    """conv, ReLU, conv, ReLU, conv, plus the input, then ReLU; ``pooled`` first adds ``pool(x)`` to x."""

    def __init__(self, c: int, pooled: bool = False) -> None:
        super().__init__()
        self.conv = nn.Sequential(_conv(c, c), nn.ReLU(), _conv(c, c), nn.ReLU(), _conv(c, c))
        self.pool = (
            nn.Sequential(
                nn.Conv2d(c, 4 * c, 1, bias=False),
                nn.GroupNorm(4, 4 * c),
                nn.ReLU(),
                nn.Conv2d(4 * c, c, 1, bias=False),
            )
            if pooled
            else None
        )
        self.fuse = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool is not None:
            x = x + self.pool(x)
        return self.fuse(self.conv(x) + x)


class _Clamp(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x / 3) * 3


def encoder(c: int = 64, latent: int = LATENT_CHANNELS) -> nn.Sequential:
    """TAEF2's encoder, keys as in ``taef2_encoder.pth``."""
    return nn.Sequential(
        _conv(3, c), _Block(c),
        _conv(c, c, stride=2, bias=False), _Block(c), _Block(c), _Block(c),
        _conv(c, c, stride=2, bias=False), _Block(c), _Block(c), _Block(c),
        _conv(c, c, stride=2, bias=False), _Block(c, True), _Block(c, True), _Block(c, True),
        _conv(c, latent),
    )  # fmt: skip


def decoder(c: int = 64, latent: int = LATENT_CHANNELS) -> nn.Sequential:
    """TAEF2's decoder, keys as in ``taef2_decoder.pth``."""
    return nn.Sequential(
        _Clamp(), _conv(latent, c), nn.ReLU(), _Block(c, True), _Block(c, True), _Block(c, True),
        nn.Upsample(scale_factor=2), _conv(c, c, bias=False), _Block(c), _Block(c), _Block(c),
        nn.Upsample(scale_factor=2), _conv(c, c, bias=False), _Block(c), _Block(c), _Block(c),
        nn.Upsample(scale_factor=2), _conv(c, c, bias=False), _Block(c), _conv(c, 3),
    )  # fmt: skip


class TAEF2(nn.Module):
    """Encoder + decoder. ``encode``: ``Bx3xHxW`` in [0, 1] -> latents; ``decode``: latents -> RGB in [0, 1]."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = encoder()
        self.decoder = decoder()

    @torch.no_grad()
    def encode(self, rgb: torch.Tensor) -> torch.Tensor:
        h, w = rgb.shape[-2:]
        if h % SCALE or w % SCALE:
            raise ValueError(f"TAEF2 needs H and W multiples of {SCALE}, got {h}x{w}")
        return self.encoder(rgb)

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        return self.decoder(latents).clamp(0.0, 1.0)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        """The round trip."""
        return self.decode(self.encode(rgb))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_taef2(folder: str | os.PathLike[str]) -> TAEF2:
    """Load TAEF2 from ``folder`` (checksums verified, state dicts loaded strictly), in eval mode.

    Raises:
        GeneratorError: the folder or a file is absent, or a file's sha256 differs from :data:`SHA256`.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise GeneratorError(f"{folder}: generator folder not found (expected TAEF2's {', '.join(SHA256)})")
    model = TAEF2()
    for name, expected in SHA256.items():
        path = folder / name
        if not path.is_file():
            raise GeneratorError(
                f"{path}: file not found (the TAEF2 generator folder needs {', '.join(SHA256)})"
            )
        actual = _sha256(path)
        if actual != expected:
            raise GeneratorError(
                f"{path}: sha256 {actual[:12]}... differs from TAEF2's published {expected[:12]}..."
            )
        part = model.encoder if "encoder" in name else model.decoder
        part.load_state_dict(torch.load(path, map_location="cpu", weights_only=True), strict=True)
    return model.eval().requires_grad_(False)
