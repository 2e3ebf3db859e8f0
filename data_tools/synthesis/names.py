"""Names of the synthesis building blocks, importable without NumPy or OpenCV (the CLI help needs them)."""

from __future__ import annotations

EDIT_NAMES: tuple[str, ...] = ("inpaint", "resample", "splice", "copymove", "color", "texture")
SHAPE_NAMES: tuple[str, ...] = ("polygon", "fourier", "blob", "ellipse", "union")
GLOBAL_KERNELS: tuple[str, ...] = ("area", "linear", "cubic", "lanczos")
