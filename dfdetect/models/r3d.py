"""`r3d`: a 3D ResNet over the whole clip (the seed's end-to-end model), video-level.

torchvision's video ResNets (r3d_18 by default; mc3_18 and r2plus1d_18 too) with the
Kinetics-400 classifier replaced by Linear(512 -> 1). Pretrained weights are Kinetics-400, with
that dataset's normalisation recorded in `input_cfg`.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from dfdetect.errors import DfdetectError
from dfdetect.models.backbones import build_torchvision, load_local_weights, set_model_meta
from dfdetect.models.registry import register_model

KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)
VIDEO_ARCHS = ("r3d_18", "mc3_18", "r2plus1d_18")


class VideoResNet(nn.Module):
    def __init__(self, arch: str, pretrained: bool, weights_path: Optional[str], dropout: float) -> None:
        super().__init__()
        net = build_torchvision(arch, pretrained)
        if weights_path:
            load_local_weights(net, weights_path, what=arch)
        in_features = net.fc.in_features
        net.fc = nn.Sequential(nn.Dropout(dropout) if dropout > 0 else nn.Identity(), nn.Linear(in_features, 1))
        self.net = net

    def forward(self, x: torch.Tensor) -> dict[str, Optional[torch.Tensor]]:
        if x.dim() != 5:
            raise DfdetectError(f"model input must be (B, T, 3, H, W), got shape {tuple(x.shape)}")
        clip = x.transpose(1, 2)  # (B, 3, T, H, W): channels first, time as depth
        return {"video": self.net(clip).squeeze(-1), "frame": None}


@register_model("r3d", level="video", img_size=112, description="3D ResNet-18 over the clip (torchvision r3d_18; Kinetics weights)")
def r3d(
    pretrained: bool = False,
    img_size: int = 112,
    frames: int = 16,
    weights_path: Optional[str] = None,
    arch: str = "r3d_18",
    dropout: float = 0.0,
) -> nn.Module:
    if arch not in VIDEO_ARCHS:
        raise DfdetectError(f"r3d arch must be one of {', '.join(VIDEO_ARCHS)}, not '{arch}'")
    model = VideoResNet(arch, pretrained, weights_path, float(dropout))
    model.cam_layer = "net.layer4"  # Grad-CAM over (time, height, width): the last 3D stage
    return set_model_meta(
        model, name="r3d", img_size=img_size, frames=frames, mean=KINETICS_MEAN, std=KINETICS_STD,
        pretrained=pretrained, weights_path=weights_path, options={"arch": arch, "dropout": float(dropout)},
    )
