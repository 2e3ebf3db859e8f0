"""Reading a ModelConfig from YAML: a model-only file (configs/mfpt_vit_b.yaml) or a training config
(configs/*_deal300k.yaml, whose model section holds it under `model.init_args.config` or `model.config`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from deal.modeling.config import ModelConfig


def _find_model_section(doc: dict[str, Any]) -> dict[str, Any]:
    if "encoder" in doc:
        return doc
    model = doc.get("model")
    if isinstance(model, dict):
        for candidate in (model.get("init_args", {}).get("config"), model.get("config"), model):
            if isinstance(candidate, dict) and "encoder" in candidate:
                return candidate
    raise ValueError("no model configuration found (expected an `encoder:` key, at the top or under model.config)")


def load_model_config(path: str | os.PathLike) -> ModelConfig:
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config not found: {path}")
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f) or {}
    try:
        return ModelConfig.from_dict(_find_model_section(doc))
    except (ValueError, TypeError) as err:
        raise ValueError(f"{path}: {err}") from err
