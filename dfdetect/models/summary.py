"""One row per registered model for `dfdetect models`: level, input, parameters, options."""

from __future__ import annotations

import inspect
from typing import Any

from dfdetect.models.registry import MODELS, _import_all


def count_parameters(name: str) -> int:
    """Build the model on the meta device (no memory, no weight init, no download) and count."""
    import torch

    from dfdetect.models.registry import create_model

    with torch.device("meta"):
        model = create_model(name, pretrained=False)
    return int(sum(p.numel() for p in model.parameters()))


def model_rows(pattern: str = "*", params: bool = True) -> list[dict[str, Any]]:
    """name, level, default input (T x 3 x H x W), parameter count, pretrained, options, description."""
    _import_all()
    rows = []
    for name in MODELS.names(pattern):
        entry = MODELS.entry(name)
        signature = inspect.signature(entry.factory).parameters
        frames = signature["frames"].default if "frames" in signature else None
        size = entry.info["img_size"]
        options = {
            k: p.default for k, p in signature.items()
            if k not in ("pretrained", "img_size", "frames", "weights_path")
        }
        rows.append({
            "name": name,
            "level": entry.info["level"],
            "input": f"{frames}x3x{size}x{size}",
            "img_size": size,
            "frames": frames,
            "params": count_parameters(name) if params else None,
            "pretrained": bool(entry.info.get("has_pretrained", True)),  # weights exist to download
            "options": options,
            "description": entry.description,
        })
    return rows
