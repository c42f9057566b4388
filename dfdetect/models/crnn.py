"""`crnn`: ResNet feature maps into a convolutional recurrent net (the seed's cRNN), video-level.

A torchvision ResNet trunk (up to layer3 by default) maps each frame to a feature map; a 1x1
conv reduces its channels; a ConvGRU or ConvLSTM (Shi et al. 2015) runs over time keeping the
spatial layout; the last hidden state is average-pooled and a linear layer gives the video logit.
The trunk runs on all B*T frames in one call; only the cheap recurrent cell loops over time.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from dfdetect.errors import DfdetectError
from dfdetect.models.backbones import flatten_time, resnet_trunk, set_model_meta
from dfdetect.models.constants import IMAGENET_MEAN, IMAGENET_STD
from dfdetect.models.registry import register_model


class ConvGRUCell(nn.Module):
    def __init__(self, channels: int, hidden: int, kernel: int = 3) -> None:
        super().__init__()
        self.hidden = hidden
        self.gates = nn.Conv2d(channels + hidden, 2 * hidden, kernel, padding=kernel // 2)
        self.candidate = nn.Conv2d(channels + hidden, hidden, kernel, padding=kernel // 2)

    def init_state(self, x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(x.shape[0], self.hidden, *x.shape[2:])

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        update, reset = torch.sigmoid(self.gates(torch.cat([x, h], dim=1))).chunk(2, dim=1)
        cand = torch.tanh(self.candidate(torch.cat([x, reset * h], dim=1)))
        h = (1 - update) * h + update * cand
        return h, h


class ConvLSTMCell(nn.Module):
    def __init__(self, channels: int, hidden: int, kernel: int = 3) -> None:
        super().__init__()
        self.hidden = hidden
        self.gates = nn.Conv2d(channels + hidden, 4 * hidden, kernel, padding=kernel // 2)

    def init_state(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        zeros = x.new_zeros(x.shape[0], self.hidden, *x.shape[2:])
        return zeros, zeros

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, tuple]:
        h, c = state
        i, f, o, g = self.gates(torch.cat([x, h], dim=1)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, (h, c)


class ConvRecurrentNet(nn.Module):
    def __init__(self, backbone: str, cell: str, hidden: int, upto: str, dropout: float, pretrained: bool, weights_path: Optional[str]) -> None:
        super().__init__()
        self.trunk, channels = resnet_trunk(backbone, pretrained, weights_path, upto=upto)
        self.reduce = nn.Sequential(nn.Conv2d(channels, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU(inplace=True))
        self.cell = ConvLSTMCell(hidden, hidden) if cell == "lstm" else ConvGRUCell(hidden, hidden)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> dict[str, Optional[torch.Tensor]]:
        b, t = x.shape[:2]
        maps = self.reduce(self.trunk(flatten_time(x, self.trunk)))
        maps = maps.reshape(b, t, *maps.shape[1:])
        state = self.cell.init_state(maps[:, 0])
        for step in range(t):  # the recurrence itself is sequential; the CNN above is not
            h, state = self.cell(maps[:, step], state)
        video = self.fc(self.dropout(h.mean(dim=(2, 3)))).squeeze(-1)
        return {"video": video, "frame": None}


@register_model("crnn", level="video", img_size=64, description="ResNet feature maps -> ConvGRU/ConvLSTM over time (the seed's cRNN)")
def crnn(
    pretrained: bool = False,
    img_size: int = 64,
    frames: int = 32,
    weights_path: Optional[str] = None,
    backbone: str = "resnet18",
    temporal: str = "gru",
    hidden: int = 64,
    upto: str = "layer3",
    dropout: float = 0.0,
) -> nn.Module:
    if temporal not in ("gru", "lstm"):
        raise DfdetectError(f"crnn --temporal must be gru (ConvGRU) or lstm (ConvLSTM), not '{temporal}'")
    model = ConvRecurrentNet(backbone, temporal, int(hidden), upto, float(dropout), pretrained, weights_path)
    model.cam_layer = "trunk"  # Grad-CAM: the per-frame ResNet maps the ConvGRU reads
    return set_model_meta(
        model, name="crnn", img_size=img_size, frames=frames, mean=IMAGENET_MEAN, std=IMAGENET_STD,
        pretrained=pretrained, weights_path=weights_path,
        options={"backbone": backbone, "temporal": temporal, "hidden": int(hidden), "upto": upto, "dropout": float(dropout)},
    )
