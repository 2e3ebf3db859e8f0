"""Names of the synthesis building blocks, importable without NumPy or OpenCV (the CLI help needs them)."""

from __future__ import annotations

EDIT_NAMES: tuple[str, ...] = ("inpaint", "resample", "splice", "copymove", "color", "texture", "lowres")
# Operations that run a real latent-diffusion decoder (deal data synth --generator DIR).
GENERATOR_EDIT_NAMES: tuple[str, ...] = (
    "regenerate",
    "latent_splice",
    "hallucinate",
    "latent_upsample",
    "full_regen",
)
ALL_EDIT_NAMES: tuple[str, ...] = EDIT_NAMES + GENERATOR_EDIT_NAMES
SHAPE_NAMES: tuple[str, ...] = ("polygon", "fourier", "blob", "ellipse", "union")
GLOBAL_KERNELS: tuple[str, ...] = ("area", "linear", "cubic", "lanczos")
