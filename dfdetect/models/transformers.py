"""Transformer baselines, frame-level: `vit` (a timm ViT) and `resvit` (ResNet stem + ViT blocks)."""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from dfdetect.errors import DfdetectError
from dfdetect.models.backbones import (
    FrameClassifier,
    build_timm,
    load_local_weights,
    resnet_trunk,
    set_model_meta,
    timm_mean_std,
)
from dfdetect.models.constants import IMAGENET_MEAN, IMAGENET_STD
from dfdetect.models.registry import register_model

TRUNK_STRIDE = {"layer1": 4, "layer2": 8, "layer3": 16, "layer4": 32}


@register_model("vit", level="frame", img_size=224, description="Vision Transformer (timm; vit_tiny_patch16_224 by default)")
def vit(
    pretrained: bool = False,
    img_size: int = 224,
    frames: int = 32,
    weights_path: Optional[str] = None,
    variant: str = "vit_tiny_patch16_224",
    dropout: float = 0.0,
) -> nn.Module:
    if not variant.startswith(("vit_", "deit_")):
        raise DfdetectError(f"vit variant must be a timm ViT/DeiT name like vit_small_patch16_224, not '{variant}'")
    # timm resamples the position embedding (also of pretrained weights) to img_size.
    net = build_timm(variant, pretrained, num_classes=1, img_size=int(img_size), drop_rate=float(dropout))
    if weights_path:
        load_local_weights(net, weights_path, what=variant)
    mean, std = timm_mean_std(net)
    wrapped = FrameClassifier(net)
    wrapped.cam_layer = None
    wrapped.cam_unavailable = ("a ViT has no convolutional feature map for Grad-CAM (its tokens would "
                               "need attention rollout); use resvit, cnn or dual to see heat maps")
    return set_model_meta(
        wrapped, name="vit", img_size=img_size, frames=frames, mean=mean, std=std,
        pretrained=pretrained, weights_path=weights_path, options={"variant": variant, "dropout": float(dropout)},
    )


class ResViT(nn.Module):
    """Hybrid ViT (Dosovitskiy et al., R50+ViT style): ResNet feature-map cells are the tokens.
    A 1x1 conv embeds them, a class token and learned position embedding are added, pre-norm
    transformer blocks mix them, and the class token is classified."""

    def __init__(self, backbone: str, upto: str, img_size: int, dim: int, depth: int, heads: int, dropout: float, pretrained: bool, weights_path: Optional[str]) -> None:
        super().__init__()
        from timm.models.vision_transformer import Block

        if dim % heads:
            raise DfdetectError(f"resvit dim ({dim}) must be divisible by heads ({heads})")
        self.stem, channels = resnet_trunk(backbone, pretrained, weights_path, upto=upto)
        self.embed = nn.Conv2d(channels, dim, 1)
        self.grid = max(1, math.ceil(img_size / TRUNK_STRIDE[upto]))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(0.02 * torch.randn(1, 1 + self.grid * self.grid, dim))
        self.blocks = nn.Sequential(*(Block(dim, heads, mlp_ratio=4.0, qkv_bias=True, proj_drop=dropout, attn_drop=dropout) for _ in range(depth)))
        self.norm = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, 1)

    def _pos_embed(self, h: int, w: int) -> torch.Tensor:
        if (h, w) == (self.grid, self.grid):
            return self.pos_embed
        # Another input size: resample the grid part, as timm does for ViTs.
        cls, grid = self.pos_embed[:, :1], self.pos_embed[:, 1:]
        grid = grid.reshape(1, self.grid, self.grid, -1).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(h, w), mode="bicubic", align_corners=False)
        return torch.cat([cls, grid.flatten(2).transpose(1, 2)], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.embed(self.stem(x))
        h, w = tokens.shape[-2:]
        tokens = tokens.flatten(2).transpose(1, 2)
        tokens = torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1) + self._pos_embed(h, w)
        return self.fc(self.norm(self.blocks(tokens))[:, 0])


@register_model("resvit", level="frame", img_size=224, description="ResNet-18 stem (to layer3) then transformer blocks (hybrid ViT)")
def resvit(
    pretrained: bool = False,
    img_size: int = 224,
    frames: int = 32,
    weights_path: Optional[str] = None,
    backbone: str = "resnet18",
    upto: str = "layer3",
    dim: int = 192,
    depth: int = 4,
    heads: int = 3,
    dropout: float = 0.0,
) -> nn.Module:
    if upto not in TRUNK_STRIDE:
        raise DfdetectError(f"resvit upto must be one of {', '.join(TRUNK_STRIDE)}, not '{upto}'")
    net = ResViT(backbone, upto, int(img_size), int(dim), int(depth), int(heads), float(dropout), pretrained, weights_path)
    wrapped = FrameClassifier(net)
    wrapped.cam_layer = "net.stem"  # Grad-CAM: the ResNet stem's map, whose cells are the tokens
    return set_model_meta(
        wrapped, name="resvit", img_size=img_size, frames=frames, mean=IMAGENET_MEAN, std=IMAGENET_STD,
        pretrained=pretrained, weights_path=weights_path,
        options={"backbone": backbone, "upto": upto, "dim": int(dim), "depth": int(depth), "heads": int(heads), "dropout": float(dropout)},
    )
