"""`capsule`: Capsule-Forensics (Nguyen, Yamagishi & Echizen, ICASSP 2019; v2 code), frame-level.

VGG-19 features up to relu3_4 (256 channels) feed 10 primary capsules; each is conv(256->64) ->
conv(64->16) -> statistical pooling (mean and std per channel) -> conv1d(2->8) -> conv1d(8->1),
an 8-d vector, squashed. Dynamic routing (2 iterations) maps them to 2 output capsules (real,
fake) of 4 dimensions. As in the paper the VGG part stays frozen when it carries ImageNet
weights (it is trained too when built from scratch, where freezing would leave it random).
Our single logit is scale * (|v_fake| - |v_real|), a learnable scale on the difference of
capsule lengths, so BCE/AUC losses apply; the routing's training-time weight noise is omitted.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from dfdetect.models.backbones import FrameClassifier, build_torchvision, load_local_weights, set_model_meta
from dfdetect.models.constants import IMAGENET_MEAN, IMAGENET_STD
from dfdetect.models.registry import register_model

VGG19_RELU3_4 = 18  # vgg19.features[:18] ends at relu3_4


def squash(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    norm_sq = (x * x).sum(dim=dim, keepdim=True)
    return norm_sq / (1.0 + norm_sq) * x / torch.sqrt(norm_sq + 1e-8)


class StatsPool(nn.Module):
    """(N, C, H, W) -> (N, 2, C): per-channel mean and standard deviation over space."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(2)
        return torch.stack([flat.mean(dim=2), flat.std(dim=2)], dim=1)


def primary_capsule(in_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
        nn.Conv2d(64, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
        StatsPool(),
        nn.Conv1d(2, 8, 5, stride=2, padding=2), nn.BatchNorm1d(8),
        nn.Conv1d(8, 1, 3, padding=1), nn.BatchNorm1d(1),
        nn.Flatten(1),  # (N, 8)
    )


class DynamicRouting(nn.Module):
    """Routing-by-agreement (Sabour et al.) from n_in capsules of dim d_in to n_out of dim d_out."""

    def __init__(self, n_in: int, n_out: int, d_in: int, d_out: int, iterations: int = 2) -> None:
        super().__init__()
        self.iterations = iterations
        self.weights = nn.Parameter(torch.randn(n_out, n_in, d_out, d_in))  # unit normal, as in the v2 code

    def forward(self, u: torch.Tensor) -> torch.Tensor:  # u: (N, n_in, d_in)
        priors = torch.einsum("oied,nid->noie", self.weights, u)  # (N, n_out, n_in, d_out)
        logits = torch.zeros(priors.shape[:3], device=u.device, dtype=u.dtype)
        for step in range(self.iterations):
            coupling = logits.softmax(dim=2)
            outputs = squash((coupling.unsqueeze(-1) * priors).sum(dim=2), dim=-1)  # (N, n_out, d_out)
            if step < self.iterations - 1:
                logits = logits + (priors * outputs.unsqueeze(2)).sum(dim=-1)
        return outputs


class CapsuleForensics(nn.Module):
    def __init__(self, pretrained: bool, weights_path: Optional[str], n_capsules: int = 10, iterations: int = 2, freeze: bool = False) -> None:
        super().__init__()
        if pretrained:
            vgg = build_torchvision("vgg19", pretrained)
        else:
            # Only the conv layers: building VGG-19's 120M-parameter classifier just to drop it
            # costs seconds. Same key layout (features.N), so a full VGG-19 state dict loads.
            from torchvision.models.vgg import cfgs, make_layers

            vgg = nn.Module()
            vgg.features = make_layers(cfgs["E"], batch_norm=False)
        if weights_path:
            load_local_weights(vgg, weights_path, what="VGG-19")
        self.features = vgg.features[:VGG19_RELU3_4]
        self.freeze_features = freeze
        if freeze:
            self.features.requires_grad_(False)
        self.primary = nn.ModuleList(primary_capsule(256) for _ in range(n_capsules))
        self.routing = DynamicRouting(n_capsules, 2, 8, 4, iterations)
        self.logit_scale = nn.Parameter(torch.tensor(5.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # A frozen VGG (requires_grad off) builds no graph already; no .detach() here, so that
        # Grad-CAM (predict --explain) can take gradients at the features' output.
        feats = self.features(x)
        u = squash(torch.stack([cap(feats) for cap in self.primary], dim=1), dim=-1)  # (N, caps, 8)
        lengths = self.routing(u).norm(dim=-1)  # (N, 2): real, fake
        return (self.logit_scale * (lengths[:, 1] - lengths[:, 0])).unsqueeze(1)


@register_model("capsule", level="frame", img_size=256, description="Capsule-Forensics: VGG-19 features + dynamic-routing capsules")
def capsule(
    pretrained: bool = False,
    img_size: int = 256,
    frames: int = 32,
    weights_path: Optional[str] = None,
    capsules: int = 10,
    iterations: int = 2,
    freeze: Optional[bool] = None,
) -> nn.Module:
    freeze = bool(pretrained or weights_path) if freeze is None else bool(freeze)
    net = CapsuleForensics(pretrained, weights_path, int(capsules), int(iterations), freeze)
    wrapped = FrameClassifier(net)
    wrapped.cam_layer = "net.features"  # Grad-CAM: VGG-19 up to relu3_4, what the capsules read
    return set_model_meta(
        wrapped, name="capsule", img_size=img_size, frames=frames, mean=IMAGENET_MEAN, std=IMAGENET_STD,
        pretrained=pretrained, weights_path=weights_path,
        options={"capsules": int(capsules), "iterations": int(iterations), "freeze": freeze},
    )
