"""MesoNet (Afchar et al., 2018): `meso4` and `mesoinception4`, frame-level, trained from scratch.

Faithful to the authors' Keras models (256x256 input): conv -> ReLU -> BatchNorm -> max-pool
stages, then Dropout(0.5) -> Dense(16) -> LeakyReLU(0.1) -> Dropout(0.5) -> Dense(1). The only
change: an adaptive average pool to the 8x8 map the 256-pixel input gives anyway, so other input
sizes (64, 128) work with the same head.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from dfdetect.models.backbones import FrameClassifier, load_local_weights, set_model_meta
from dfdetect.models.constants import IMAGENET_MEAN, IMAGENET_STD
from dfdetect.models.registry import register_model


def conv_stage(c_in: int, c_out: int, kernel: int, pool: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
        nn.ReLU(inplace=True),
        nn.BatchNorm2d(c_out),
        nn.MaxPool2d(pool, pool),
    )


class InceptionLayer(nn.Module):
    """MesoInception's module: 1x1, 1x1->3x3, and 1x1->3x3 dilated by 2 and by 3, concatenated."""

    def __init__(self, c_in: int, a: int, b: int, c: int, d: int) -> None:
        super().__init__()
        relu = nn.ReLU(inplace=True)
        self.branch1 = nn.Sequential(nn.Conv2d(c_in, a, 1), relu)
        self.branch2 = nn.Sequential(nn.Conv2d(c_in, b, 1), relu, nn.Conv2d(b, b, 3, padding=1), relu)
        self.branch3 = nn.Sequential(nn.Conv2d(c_in, c, 1), relu, nn.Conv2d(c, c, 3, padding=2, dilation=2), relu)
        self.branch4 = nn.Sequential(nn.Conv2d(c_in, d, 1), relu, nn.Conv2d(d, d, 3, padding=3, dilation=3), relu)
        self.out_channels = a + b + c + d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)


def inception_stage(c_in: int, a: int, b: int, c: int, d: int) -> nn.Sequential:
    layer = InceptionLayer(c_in, a, b, c, d)
    return nn.Sequential(layer, nn.BatchNorm2d(layer.out_channels), nn.MaxPool2d(2, 2))


class MesoHead(nn.Module):
    def __init__(self, channels: int = 16, dropout: float = 0.5) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(8)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(channels * 64, 16),
            nn.LeakyReLU(0.1), nn.Dropout(dropout), nn.Linear(16, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.pool(x))


class Meso4(nn.Module):
    def __init__(self, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            conv_stage(3, 8, 3, 2), conv_stage(8, 8, 5, 2), conv_stage(8, 16, 5, 2), conv_stage(16, 16, 5, 4)
        )
        self.head = MesoHead(16, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class MesoInception4(nn.Module):
    def __init__(self, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            inception_stage(3, 1, 4, 4, 2),  # 11 channels
            inception_stage(11, 2, 4, 4, 2),  # 12 channels
            conv_stage(12, 16, 5, 2),
            conv_stage(16, 16, 5, 4),
        )
        self.head = MesoHead(16, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def _meso(name: str, net: nn.Module, img_size: int, frames: int, weights_path: Optional[str], dropout: float) -> nn.Module:
    if weights_path:
        load_local_weights(net, weights_path, what=name)
    wrapped = FrameClassifier(net)
    wrapped.cam_layer = "net.features"  # Grad-CAM: the last conv stage (before the dense head)
    return set_model_meta(
        wrapped, name=name, img_size=img_size, frames=frames, mean=IMAGENET_MEAN, std=IMAGENET_STD,
        pretrained=False, weights_path=weights_path, options={"dropout": float(dropout)},
    )


@register_model("meso4", level="frame", img_size=256, description="MesoNet Meso-4 (Afchar et al. 2018)", has_pretrained=False)
def meso4(pretrained: bool = False, img_size: int = 256, frames: int = 32, weights_path: Optional[str] = None, dropout: float = 0.5) -> nn.Module:
    return _meso("meso4", Meso4(dropout), img_size, frames, weights_path, dropout)


@register_model("mesoinception4", level="frame", img_size=256, description="MesoNet MesoInception-4 (Afchar et al. 2018)", has_pretrained=False)
def mesoinception4(pretrained: bool = False, img_size: int = 256, frames: int = 32, weights_path: Optional[str] = None, dropout: float = 0.5) -> nn.Module:
    return _meso("mesoinception4", MesoInception4(dropout), img_size, frames, weights_path, dropout)
