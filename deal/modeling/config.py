"""Typed configuration of an MFPT model. YAML configs map onto these dataclasses key for key.

What is published about MFPT and what is inferred is documented in docs/model.md ("What is inferred about MFPT").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from deal.modeling.input_policy import INPUT_POLICIES

ENCODER_SIZES = ("tiny", "vit_b", "vit_l", "vit_h")
ATTENTION_BACKENDS = ("auto", "sdpa", "flex")  # deal.modeling.rel_pos_attention
INPUT_BANDS = ("fft_highpass", "fft_bandpass", "dct_low", "dct_mid", "dct_high")


@dataclass(frozen=True)
class EncoderSpec:
    """Hyper-parameters of a SAM ViT image encoder (see segment_anything/build_sam.py)."""

    embed_dim: int
    depth: int
    num_heads: int
    global_attn_indexes: tuple[int, ...]
    window_size: int = 14
    patch_size: int = 16
    neck_dim: int = 256
    decoder_mlp_dim: int = 2048
    decoder_heads: int = 8
    pretrain_size: int = 1024
    checkpoint: str | None = None  # official file name, None for sizes without a release


# The official SAM sizes (segment_anything.build_sam) and a tiny size for tests and from-scratch training.
ENCODER_SPECS: dict[str, EncoderSpec] = {
    "vit_b": EncoderSpec(768, 12, 12, (2, 5, 8, 11), checkpoint="sam_vit_b_01ec64.pth"),
    "vit_l": EncoderSpec(1024, 24, 16, (5, 11, 17, 23), checkpoint="sam_vit_l_0b3195.pth"),
    "vit_h": EncoderSpec(1280, 32, 16, (7, 15, 23, 31), checkpoint="sam_vit_h_4b8939.pth"),
    "tiny": EncoderSpec(
        192, 6, 3, (2, 5), window_size=8, neck_dim=128, decoder_mlp_dim=512, decoder_heads=4, pretrain_size=256
    ),
}


@dataclass
class PromptConfig:
    """MFPT's prompts. Every band and each prompter can be switched off for ablations.

    Args:
        input_prompter: the Frequency Input Prompter (image-domain bands + embedding branch).
        feature_prompter: the Feature Frequency Prompter (learned spectral gate on each block's tokens).
        bands: image-domain bands of the input prompter, a subset of INPUT_BANDS.
        highpass_rate: share of the spectrum's area, a centred square of low frequencies, that the FFT
            high-pass removes (EVP's "rate": 0.25 removes the central S/2 x S/2 square).
        bandpass: (inner, outer) area shares of the FFT band-pass ring.
        scale_factor: r = embed_dim // scale_factor channels for the prompt branch.
        embedding_branch: add Linear(D -> r) of the patch tokens to the band embeddings.
        band_energy: add the scale-invariant band-energy stem (deal.modeling.band_energy): per-pixel log
            energies of a difference-of-Gaussians pyramid and their ratios, raw and relative to the image's
            median, through a small full-resolution convolution before any patchify. Not part of the
            published MFPT (off in the paper-faithful configs); it carries the finest-band deficit of
            generated pixels, which a stride-16 embedding of a high-pass image mixes away.
        band_energy_width: channels of that stem's full-resolution convolutions.
    """

    input_prompter: bool = True
    feature_prompter: bool = True
    bands: tuple[str, ...] = INPUT_BANDS
    highpass_rate: float = 0.25
    bandpass: tuple[float, float] = (0.05, 0.25)
    scale_factor: int = 32
    embedding_branch: bool = True
    band_energy: bool = False
    band_energy_width: int = 32

    def __post_init__(self) -> None:
        self.bands = tuple(self.bands)
        self.bandpass = tuple(self.bandpass)  # type: ignore[assignment]
        unknown = [b for b in self.bands if b not in INPUT_BANDS]
        if unknown:
            raise ValueError(f"unknown input band(s) {unknown}; choose from {list(INPUT_BANDS)}")
        if not 0.0 < self.highpass_rate < 1.0:
            raise ValueError(f"highpass_rate must be in (0, 1), got {self.highpass_rate}")
        lo, hi = self.bandpass
        if not 0.0 <= lo < hi < 1.0:
            raise ValueError(f"bandpass must be (inner, outer) with 0 <= inner < outer < 1, got {self.bandpass}")
        if self.scale_factor < 1:
            raise ValueError(f"scale_factor must be >= 1, got {self.scale_factor}")
        if self.band_energy_width < 1:
            raise ValueError(f"band_energy_width must be >= 1, got {self.band_energy_width}")


@dataclass
class ModelConfig:
    """An MFPT model: encoder size, prompts, decoder, and the input policy it was trained with.

    Args:
        encoder: one of ENCODER_SIZES.
        prompts: the prompt configuration.
        input_policy: "sam" (longest side resized to image_size, padded square, as SAM) or "native"
            (no resampling: padded to a multiple of the patch size; position embeddings interpolated).
        image_size: the SAM policy's side, and the native policy's tile size for large images.
        train_encoder: train the encoder too (for the tiny size trained from scratch); the frozen,
            pretrained encoder is MFPT's setting.
        attention: the global-attention blocks' backend: "sdpa" (the rel-pos bias as a dense SDPA mask),
            "flex" (the bias through FlexAttention's score_mod, no (B, heads, N, N) tensor), or "auto"
            (flex for training steps on CUDA when FlexAttention and Triton are available, else sdpa).
            A runtime choice: both compute the same function.
        high_res_path: fuse per-pixel band-energy features, brought from full resolution to the decoder's
            upscaled grid by a small convolution stack, into the mask features before the mask head
            (deal.modeling.high_res; HQ-SAM's idea for detail). Not in the published MFPT: the
            paper-faithful configs keep it off.
        high_res_width: channels of that path's convolutions.
        cue_residual: the output is the training-free spectral-slope cue's logit plus a learned, gated
            residual from the decoder (deal.modeling.cue_residual): an untrained model reproduces the cue's
            map. Not in the published MFPT.
        cue_smoothing: Gaussian sigmas (pixels) of smoothed copies of the cue that the cue residual adds with
            learned weights (a region-sized average of the per-pixel evidence); empty: none.
        cue_init: the initial weights of the cue at its own resolution and of each smoothed copy (1 +
            len(cue_smoothing) numbers); empty: the spectral-slope baseline's (2, then 0 for each copy), so an
            untrained model reproduces the baseline's map.
    """

    encoder: str = "vit_b"
    prompts: PromptConfig = field(default_factory=PromptConfig)
    input_policy: str = "sam"
    image_size: int = 1024
    train_encoder: bool = False
    attention: str = "auto"
    high_res_path: bool = False
    high_res_width: int = 16
    cue_residual: bool = False
    cue_smoothing: tuple[float, ...] = ()
    cue_init: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        self.cue_smoothing = tuple(float(s) for s in self.cue_smoothing)
        self.cue_init = tuple(float(w) for w in self.cue_init)
        if self.cue_init and len(self.cue_init) != 1 + len(self.cue_smoothing):
            raise ValueError(
                f"cue_init needs {1 + len(self.cue_smoothing)} weights (the cue, then each of cue_smoothing), "
                f"got {list(self.cue_init)}"
            )
        if any(s <= 0 for s in self.cue_smoothing):
            raise ValueError(f"cue_smoothing sigmas must be > 0, got {list(self.cue_smoothing)}")
        if self.high_res_width < 1:
            raise ValueError(f"high_res_width must be >= 1, got {self.high_res_width}")
        if isinstance(self.prompts, dict):
            self.prompts = PromptConfig(**self.prompts)
        if self.encoder not in ENCODER_SPECS:
            raise ValueError(f"unknown encoder {self.encoder!r}; choose from {list(ENCODER_SPECS)}")
        if self.input_policy not in INPUT_POLICIES:
            raise ValueError(f"unknown input_policy {self.input_policy!r}; choose from {list(INPUT_POLICIES)}")
        if self.attention not in ATTENTION_BACKENDS:
            raise ValueError(f"unknown attention {self.attention!r}; choose from {list(ATTENTION_BACKENDS)}")
        if self.image_size % self.spec.patch_size:
            raise ValueError(f"image_size {self.image_size} is not a multiple of {self.spec.patch_size}")

    @property
    def spec(self) -> EncoderSpec:
        return ENCODER_SPECS[self.encoder]

    @property
    def uses_band_features(self) -> bool:
        """Whether the forward pass needs the per-pixel band-energy features (stem, high-res path, cue)."""
        return self.prompts.band_energy or self.high_res_path or self.cue_residual

    @property
    def prompt_dim(self) -> int:
        return max(1, self.spec.embed_dim // self.prompts.scale_factor)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["prompts"]["bands"] = list(d["prompts"]["bands"])
        d["prompts"]["bandpass"] = list(d["prompts"]["bandpass"])
        d["cue_smoothing"] = list(d["cue_smoothing"])
        d["cue_init"] = list(d["cue_init"])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown model config key(s) {sorted(unknown)}; known: {sorted(known)}")
        d = dict(d)
        if "prompts" in d and isinstance(d["prompts"], dict):
            d["prompts"] = PromptConfig(**d["prompts"])
        return cls(**d)
