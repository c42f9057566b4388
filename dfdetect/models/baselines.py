"""Frame-level CNN baselines: `cnn` (ResNet per frame), `xception` (timm) and `fwa` (DSP-FWA).

Each scores every frame; a video's score is the mean of its frame probabilities (eval/predict).
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from dfdetect.errors import DfdetectError
from dfdetect.models.backbones import (
    FrameClassifier,
    build_frame_backbone,
    build_timm,
    last_stage_name,
    load_local_weights,
    resnet_trunk,
    set_model_meta,
    timm_mean_std,
)
from dfdetect.models.constants import IMAGENET_MEAN, IMAGENET_STD
from dfdetect.models.registry import register_model


class LinearProbe(nn.Module):
    """Backbone features -> dropout -> Linear(feat -> 1)."""

    def __init__(self, backbone: nn.Module, feat_dim: int, dropout: float) -> None:
        super().__init__()
        self.backbone = backbone
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(feat_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.backbone(x)))


@register_model("cnn", level="frame", img_size=64, description="ResNet per frame (the paper's no-RNN ablation); video = mean of frame probs")
def cnn(
    pretrained: bool = False,
    img_size: int = 64,
    frames: int = 32,
    weights_path: Optional[str] = None,
    backbone: str = "resnet50",
    dropout: float = 0.0,
) -> nn.Module:
    body = build_frame_backbone(backbone, pretrained, weights_path)
    model = FrameClassifier(LinearProbe(body, body.feat_dim, dropout))
    stage = body.cam_layer  # Grad-CAM (predict --explain): the backbone's last stage
    model.cam_layer = f"net.backbone.{stage}" if stage else None
    return set_model_meta(
        model, name="cnn", img_size=img_size, frames=frames, mean=body.mean, std=body.std,
        pretrained=pretrained, weights_path=weights_path, options={"backbone": backbone, "dropout": float(dropout)},
    )


def _timm_xception_name() -> str:
    """timm renamed the original Xception to legacy_xception; use whichever this timm has."""
    import timm

    return "legacy_xception" if timm.list_models("legacy_xception") else "xception"


@register_model("xception", level="frame", img_size=299, description="Xception (timm), the FaceForensics++ frame baseline")
def xception(
    pretrained: bool = False,
    img_size: int = 299,
    frames: int = 32,
    weights_path: Optional[str] = None,
    dropout: float = 0.0,
) -> nn.Module:
    name = _timm_xception_name()
    net = build_timm(name, pretrained, num_classes=1, drop_rate=float(dropout))
    if weights_path:
        load_local_weights(net, weights_path)
    mean, std = timm_mean_std(net)
    wrapped = FrameClassifier(net)
    wrapped.cam_layer = last_stage_name(net, "net")  # Grad-CAM: the last conv stage
    return set_model_meta(
        wrapped, name="xception", img_size=img_size, frames=frames, mean=mean, std=std,
        pretrained=pretrained, weights_path=weights_path, options={"dropout": float(dropout)},
    )


class SpatialPyramidPool(nn.Module):
    """SPP-net pooling: max-pool the map to each n x n grid and concatenate (fixed length)."""

    def __init__(self, levels: Sequence[int] = (1, 2, 6)) -> None:
        super().__init__()
        self.levels = tuple(int(n) for n in levels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.adaptive_max_pool2d(x, n).flatten(1) for n in self.levels], dim=1)


class SPPNet(nn.Module):
    """DSP-FWA (Li & Lyu, face warping artifacts): a ResNet-50 trunk, spatial pyramid pooling
    with levels 1, 2 and 6 over its last map, then a linear classifier."""

    def __init__(self, backbone: str, pretrained: bool, weights_path: Optional[str], levels: Sequence[int], dropout: float) -> None:
        super().__init__()
        self.features, channels = resnet_trunk(backbone, pretrained, weights_path)
        self.spp = SpatialPyramidPool(levels)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(channels * sum(n * n for n in self.spp.levels), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.spp(self.features(x))))


@register_model("fwa", level="frame", img_size=224, description="DSP-FWA: ResNet-50 with spatial pyramid pooling (face warping artifacts)")
def fwa(
    pretrained: bool = False,
    img_size: int = 224,
    frames: int = 32,
    weights_path: Optional[str] = None,
    backbone: str = "resnet50",
    levels: str = "1,2,6",
    dropout: float = 0.5,
) -> nn.Module:
    try:
        level_list = [int(v) for v in str(levels).split(",") if v.strip()]
    except ValueError:
        level_list = []
    if not level_list or min(level_list) < 1:
        raise DfdetectError(f"fwa levels must be positive integers like '1,2,6', not '{levels}'")
    net = SPPNet(backbone, pretrained, weights_path, level_list, dropout)
    wrapped = FrameClassifier(net)
    wrapped.cam_layer = "net.features"  # Grad-CAM: the ResNet trunk's last stage, before the SPP
    return set_model_meta(
        wrapped, name="fwa", img_size=img_size, frames=frames, mean=IMAGENET_MEAN, std=IMAGENET_STD,
        pretrained=pretrained, weights_path=weights_path,
        options={"backbone": backbone, "levels": ",".join(map(str, level_list)), "dropout": float(dropout)},
    )
