"""`train --freeze K`: keep the stem and the first K stages of a pretrained backbone fixed.

Why: with a few hundred training videos, fine-tuning every layer of an ImageNet backbone mostly
fits noise, and on a CPU the early high-resolution stages cost most of the backward pass. Frozen
stages build no autograd graph at all (their input needs no gradient and their weights none), so
their backward costs nothing, and their BatchNorm layers keep ImageNet's running statistics
(they stay in eval mode even when the model is put in train mode).
"""

from __future__ import annotations

import types

from torch import nn

from dfdetect.errors import UsageError


def backbone_stages(model: nn.Module) -> list[list[nn.Module]]:
    """[stem, stage 1, stage 2, ...] of the first CNN backbone inside `model`.

    Knows timm's EfficientNet/MobileNet family (conv_stem, bn1, blocks[i]) and ResNets
    (torchvision or timm: conv1, bn1, layer1..layer4)."""
    for module in model.modules():
        if hasattr(module, "conv_stem") and hasattr(module, "blocks"):
            stem = [module.conv_stem] + ([module.bn1] if hasattr(module, "bn1") else [])
            return [stem] + [[block] for block in module.blocks]
        if all(hasattr(module, n) for n in ("conv1", "bn1", "layer1", "layer4")):
            stem = [module.conv1, module.bn1]
            return [stem] + [[getattr(module, f"layer{i}")] for i in range(1, 5) if hasattr(module, f"layer{i}")]
    return []


def _stay_in_eval(self: nn.Module, mode: bool = True) -> nn.Module:
    return nn.Module.train(self, False)


def freeze_stages(model: nn.Module, k: int) -> int:
    """Freeze the stem and the first `k` stages; return the number of frozen parameters."""
    if k <= 0:
        return 0
    stages = backbone_stages(model)
    if not stages:
        raise UsageError(
            f"--freeze needs a ResNet or EfficientNet/MobileNet backbone; model '{getattr(model, 'name', '?')}' has none"
        )
    if k > len(stages) - 1:
        raise UsageError(f"--freeze {k}: this backbone has {len(stages) - 1} stages after its stem")
    frozen = 0
    for group in stages[: k + 1]:
        for module in group:
            for p in module.parameters():
                p.requires_grad_(False)
                frozen += p.numel()
            for sub in module.modules():  # BatchNorm statistics stay ImageNet's
                sub.train = types.MethodType(_stay_in_eval, sub)
            module.train(False)
    return frozen
