"""The model registry: the name -> factory dict that `@register_model` fills (timm's `_registry.py`).

It imports no model family, so every family can import it without a cycle; the factory
(`factory.py`: `create_model`, `list_models`) is the one door in.

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

from typing import TYPE_CHECKING, Callable

from dfdetect.registry import Registry

if TYPE_CHECKING:
    from torch import nn

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
