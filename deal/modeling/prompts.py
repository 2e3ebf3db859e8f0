"""MFPT's prompts: the Frequency Input Prompter, the Feature Frequency Prompter and the per-block
prompt MLPs that turn both into one additive prompt for each encoder block.

Shapes: image Bx3xHxW; tokens BxhxwxD (NHWC, h = H/16); prompts Bxhxwxr with r = D / scale_factor.
What is reconstructed here (the paper's code is unpublished) is listed in docs/model.md.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from deal.modeling.band_energy import BandEnergyStem
from deal.modeling.frequency import DCT_BANDS, block_dct_energy, fft_bandpass, fft_highpass


class FrequencyInputPrompter(nn.Module):
    """Image-domain frequency bands, each patch-embedded to r channels, plus an embedding branch.

    FFT bands (high-pass, band-pass) are full-resolution images embedded with a Conv2d of kernel and
    stride patch_size; 8x8 block-DCT energy bands are (H/8)x(W/8) maps embedded with kernel and stride
    patch_size / 8, so every band lands on the same token grid.
    """

    def __init__(
        self,
        *,
        embed_dim: int,
        prompt_dim: int,
        patch_size: int = 16,
        bands: tuple[str, ...] = ("fft_highpass", "fft_bandpass", "dct_low", "dct_mid", "dct_high"),
        highpass_rate: float = 0.25,
        bandpass: tuple[float, float] = (0.05, 0.25),
        embedding_branch: bool = True,
        band_energy: bool = False,
        band_energy_width: int = 32,
    ) -> None:
        super().__init__()
        if patch_size % 8:
            raise ValueError(f"patch_size must be a multiple of 8 for the DCT bands, got {patch_size}")
        self.bands = tuple(bands)
        self.highpass_rate = highpass_rate
        self.bandpass = tuple(bandpass)
        self.band_embed = nn.ModuleDict()
        for band in self.bands:
            k = patch_size // 8 if band in DCT_BANDS else patch_size
            self.band_embed[band] = nn.Conv2d(3, prompt_dim, kernel_size=k, stride=k)
        self.embedding = nn.Linear(embed_dim, prompt_dim) if embedding_branch else None
        self.band_energy = (
            BandEnergyStem(prompt_dim=prompt_dim, patch_size=patch_size, width=band_energy_width)
            if band_energy
            else None
        )

    def band_images(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """The raw band maps of a Bx3xHxW image, keyed by band name."""
        out: dict[str, torch.Tensor] = {}
        if "fft_highpass" in self.bands:
            out["fft_highpass"] = fft_highpass(image, self.highpass_rate)
        if "fft_bandpass" in self.bands:
            out["fft_bandpass"] = fft_bandpass(image, *self.bandpass)
        dct = tuple(b for b in self.bands if b in DCT_BANDS)
        if dct:
            out.update(block_dct_energy(image, dct))
        return out

    def forward(
        self, image: torch.Tensor, patch_tokens: torch.Tensor, features: torch.Tensor | None = None
    ) -> torch.Tensor:
        """image Bx3xHxW, patch_tokens BxhxwxD (before position embeddings) -> Bxhxwxr; ``features``: the
        image's band-energy features where the model already computed them."""
        prompt = None
        for band, band_image in self.band_images(image).items():
            emb = self.band_embed[band](band_image.to(patch_tokens.dtype)).permute(0, 2, 3, 1)
            prompt = emb if prompt is None else prompt + emb
        if self.embedding is not None:
            emb = self.embedding(patch_tokens)
            prompt = emb if prompt is None else prompt + emb
        if self.band_energy is not None:
            emb = self.band_energy(image, patch_tokens.dtype, features)
            prompt = emb if prompt is None else prompt + emb
        if prompt is None:
            raise ValueError("the input prompter has no band and no embedding branch: switch it off instead")
        return prompt


class FeatureFrequencyPrompter(nn.Module):
    """A learned spectral gate per block on the running tokens (EVPv2's Fourier prompt).

    Fq = rfft2(P over h, w); m_re = sigmoid(Linear(D->1)(Re Fq)), m_im likewise; P_f = irfft2(gated);
    returns Down(D -> r)(P_f), shape Bxhxwxr.
    """

    def __init__(self, *, embed_dim: int, prompt_dim: int, depth: int) -> None:
        super().__init__()
        self.gate_real = nn.ModuleList(nn.Linear(embed_dim, 1) for _ in range(depth))
        self.gate_imag = nn.ModuleList(nn.Linear(embed_dim, 1) for _ in range(depth))
        self.down = nn.Linear(embed_dim, prompt_dim)

    def forward(self, tokens: torch.Tensor, block_index: int) -> torch.Tensor:
        h, w = tokens.shape[1:3]
        spectrum = torch.fft.rfft2(tokens.float(), dim=(1, 2), norm="ortho")
        # FFTs run in fp32 (cuFFT's half precision needs power-of-two sizes); gates in the model's dtype.
        real, imag = spectrum.real, spectrum.imag
        gate_re = torch.sigmoid(self.gate_real[block_index](real.to(tokens.dtype))).float()
        gate_im = torch.sigmoid(self.gate_imag[block_index](imag.to(tokens.dtype))).float()
        gated = torch.complex(real * gate_re, imag * gate_im)
        filtered = torch.fft.irfft2(gated, s=(h, w), dim=(1, 2), norm="ortho").to(tokens.dtype)
        return self.down(filtered)


class PromptGenerator(nn.Module):
    """Combines both prompters into one additive prompt per block: Up(GELU(L_i(z_i))), with
    z_i = input prompt + feature prompt of block i, L_i one r->r Linear per block and Up a shared
    r->D Linear, zero-initialised so an untrained generator leaves the encoder's output unchanged.
    """

    def __init__(
        self,
        *,
        embed_dim: int,
        depth: int,
        prompt_dim: int,
        input_prompter: FrequencyInputPrompter | None,
        feature_prompter: FeatureFrequencyPrompter | None,
    ) -> None:
        super().__init__()
        if input_prompter is None and feature_prompter is None:
            raise ValueError("PromptGenerator needs at least one prompter")
        self.input_prompter = input_prompter
        self.feature_prompter = feature_prompter
        self.block_mlps = nn.ModuleList(nn.Linear(prompt_dim, prompt_dim) for _ in range(depth))
        self.up = nn.Linear(prompt_dim, embed_dim)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def input_prompt(
        self, image: torch.Tensor, patch_tokens: torch.Tensor, features: torch.Tensor | None = None
    ) -> torch.Tensor | None:
        if self.input_prompter is None:
            return None
        return self.input_prompter(image, patch_tokens, features)

    def block_prompt(
        self, block_index: int, tokens: torch.Tensor, input_prompt: torch.Tensor | None
    ) -> torch.Tensor:
        """The prompt added to block `block_index`'s input tokens (BxhxwxD)."""
        z = input_prompt
        if self.feature_prompter is not None:
            f = self.feature_prompter(tokens, block_index)
            z = f if z is None else z + f
        assert z is not None
        return self.up(F.gelu(self.block_mlps[block_index](z)))
