"""The model factory: `create_model`, `list_models` and `model_info`, the one door in (timm's
`_factory.py`). Adding a model family means one new module and its name in MODEL_FAMILIES."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from dfdetect.models.registry import MODELS

if TYPE_CHECKING:
    from torch import nn

# every module that registers models; imported together on first use
MODEL_FAMILIES = ("baselines", "capsule", "crnn", "dual", "mesonet", "r3d", "transformers")


def import_model_families() -> None:
    """Import every family module, so each registers its models. The families (torch, torchvision,
    timm) load on first use, not when dfdetect.models is imported, so the CLI starts fast."""
    for family in MODEL_FAMILIES:
        importlib.import_module(f"dfdetect.models.{family}")


def list_models(pattern: str = "*") -> list[str]:
    import_model_families()
    return MODELS.names(pattern)


def model_info(name: str) -> dict[str, Any]:
    import_model_families()
    entry = MODELS.entry(name)
    return {"name": entry.name, "description": entry.description, **entry.info}


def create_model(name: str, pretrained: bool = False, **options: Any) -> "nn.Module":
    """Build a registered model. Options that are None are dropped, so a CLI flag the user did
    not set never overrides the model's own default."""
    import inspect

    from dfdetect.errors import UsageError

    import_model_families()
    factory = MODELS.get(name)
    options = {k: v for k, v in options.items() if v is not None}
    accepted = [p for p in inspect.signature(factory).parameters if p != "pretrained"]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise UsageError(
            f"model '{name}' does not take option {', '.join(unknown)} (it takes: {', '.join(accepted)})"
        )
    model = factory(pretrained=pretrained, **options)
    if not hasattr(model, "level"):  # the heads this instance has (dual's --head may narrow them)
        model.level = MODELS.entry(name).info["level"]
    return model
