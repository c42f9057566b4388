"""The model registry and `create_model`, the one door in (timm style).

Contract every registered model follows (so one trainer, evaluator and predictor serve them all):
- input: a float tensor (B, T, 3, H, W), ImageNet-normalised face crops;
- `forward(x)` returns a dict {"video": (B,) logits or None, "frame": (B, T) logits or None};
  logits are for label 1 = fake. Frame-level models return only "frame"; the video score is
  then the mean of frame probabilities (eval's `--aggregate`).
- `model.input_cfg`: {"img_size": int, "frames": int, "mean": [..], "std": [..]} — the
  preprocessing the model expects; it is stored in checkpoints and read back by predict.
- `model.model_options`: the options that rebuild it (`create_model(name, **model.model_options)`,
  without pretrained weights); `model.pretrained` (bool) and `model.pretrained_source`
  ("imagenet", "local:PATH" or None); `model.level`: the heads this instance has.
- `create_model` drops None options and rejects options the model does not take (UsageError).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from dfdetect.registry import Registry

if TYPE_CHECKING:
    from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

MODELS: Registry[Callable[..., "nn.Module"]] = Registry("model")


def register_model(
    name: str,
    *,
    level: str,
    img_size: int,
    description: str = "",
    has_pretrained: bool = True,
) -> Callable[[Callable[..., "nn.Module"]], Callable[..., "nn.Module"]]:
    """Register a model factory. `level` is "video", "frame" or "dual" (which heads it has)."""
    return MODELS.register(name, description, level=level, img_size=img_size, has_pretrained=has_pretrained)


def _import_all() -> None:
    # The zoo (torch, torchvision, timm) loads on first use, not when dfdetect.models is
    # imported, so the CLI can import this package at startup and stay fast.
    import dfdetect.models.zoo  # noqa: F401  (each model module registers itself on import)


def list_models(pattern: str = "*") -> list[str]:
    _import_all()
    return MODELS.names(pattern)


def model_info(name: str) -> dict[str, Any]:
    _import_all()
    entry = MODELS.entry(name)
    return {"name": entry.name, "description": entry.description, **entry.info}


def create_model(name: str, pretrained: bool = False, **options: Any) -> "nn.Module":
    """Build a registered model. Options that are None are dropped, so a CLI flag the user did
    not set never overrides the model's own default."""
    import inspect

    from dfdetect.errors import UsageError

    _import_all()
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
