"""Input policies: how an image of any size becomes the model's input, one class per file.

A policy is a subclass of deal.modeling.policies.base.InputPolicy in a module of this package; it
registers itself by its `name` (INPUT_POLICIES lists them, get_policy builds one). Adding a policy is
adding one file here: the modules of this package are imported below.
"""

from __future__ import annotations

import importlib
import pkgutil

from deal.modeling.policies.base import POLICIES, InputPolicy

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")

INPUT_POLICIES = tuple(POLICIES)


def check_policy(name: str) -> None:
    """ValueError naming the valid choices for an unknown policy."""
    if name not in POLICIES:
        raise ValueError(f"unknown input policy {name!r}; choose from {', '.join(POLICIES)}")


def get_policy(name: str, image_size: int, patch_size: int = 16) -> InputPolicy:
    """The policy `name` for a model of this input size and patch size."""
    check_policy(name)
    return POLICIES[name](image_size, patch_size)


__all__ = ["INPUT_POLICIES", "InputPolicy", "check_policy", "get_policy"]
