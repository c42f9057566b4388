"""`dual`: the paper's dual-level network (CNN per frame -> GRU -> frame head + video head).

The method (docs/method.md): an ImageNet ResNet-50 without fc gives a 2048-d feature per frame; a
3-layer batch-first GRU (hidden 256) runs over time; the frame head is Linear(256->1) on every
step; the video head adaptive-average-pools the (T, 256) GRU output to 16x16, flattens it to 256
and applies Linear(256->1). All logits are for label 1 = fake.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from dfdetect.errors import DfdetectError
from dfdetect.models.backbones import build_frame_backbone, flatten_time, set_model_meta
from dfdetect.models.frequency import BlockDCT
from dfdetect.models.registry import register_model

TEMPORAL_KINDS = ("gru", "lstm", "bigru", "bilstm")
HEADS = ("video", "frame", "dual")
FREQUENCIES = ("none", "dct")
FRAME_SOURCES = ("temporal", "backbone")


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise DfdetectError(f"--{name.replace('_', '-')} must be one of {'|'.join(allowed)}, not '{value}'")
    return value


class DualLevelNet(nn.Module):
    """Backbone on all B*T frames in one call, a recurrent model over time, and up to two heads.

    head="dual": frame logits from every temporal step and a video logit from the pooled sequence.
    head="video": the video head only. head="frame": no temporal model; a per-frame linear head
    on the backbone features. `frame_source="backbone"` puts the frame head on the backbone
    features even when a temporal model exists (some reference checkpoints do that).
    """

    def __init__(
        self,
        backbone: str = "resnet50",
        temporal: str = "gru",
        hidden: int = 256,
        layers: int = 3,
        head: str = "dual",
        frequency: str = "none",
        dropout: float = 0.0,
        pool: int = 16,
        frame_source: str = "temporal",
        pretrained: bool = False,
        weights_path: Optional[str] = None,
    ) -> None:
        super().__init__()
        _choice("temporal", temporal, TEMPORAL_KINDS)
        self.head = _choice("head", head, HEADS)
        _choice("frequency", frequency, FREQUENCIES)
        _choice("frame_source", frame_source, FRAME_SOURCES)
        if hidden < 1 or layers < 1 or pool < 1:
            raise DfdetectError("--hidden, --layers and the video pool size must be positive")
        self.frequency = BlockDCT() if frequency == "dct" else nn.Identity()
        self.backbone = build_frame_backbone(backbone, pretrained, weights_path)
        feat_dim = self.backbone.feat_dim
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

        self.temporal: Optional[nn.RNNBase] = None
        temporal_dim = feat_dim
        if head != "frame":
            rnn_cls = nn.LSTM if temporal.endswith("lstm") else nn.GRU
            bidirectional = temporal.startswith("bi")
            self.temporal = rnn_cls(
                feat_dim, hidden, num_layers=layers, batch_first=True,
                bidirectional=bidirectional, dropout=dropout if layers > 1 else 0.0,
            )
            temporal_dim = hidden * (2 if bidirectional else 1)
        self.frame_from_backbone = head == "frame" or frame_source == "backbone"
        self.pool = pool
        self.frame_head = (
            nn.Linear(feat_dim if self.frame_from_backbone else temporal_dim, 1) if head != "video" else None
        )
        self.video_head = nn.Linear(pool * pool, 1) if head != "frame" else None

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, 3, H, W) -> per-frame backbone features (B, T, F)."""
        b, t = x.shape[:2]
        frames = self.frequency(flatten_time(x, self.backbone))
        return self.backbone(frames).reshape(b, t, -1)

    def forward_head(self, feats: torch.Tensor) -> dict[str, Optional[torch.Tensor]]:
        feats = self.dropout(feats)
        seq = None
        if self.temporal is not None:
            seq, _ = self.temporal(feats)
        frame = video = None
        if self.frame_head is not None:
            frame = self.frame_head(feats if self.frame_from_backbone else self.dropout(seq)).squeeze(-1)
        if self.video_head is not None:
            # (B, T, D) seen as a one-channel image, pooled to pool x pool: the paper's video head.
            pooled = F.adaptive_avg_pool2d(seq.unsqueeze(1), (self.pool, self.pool)).flatten(1)
            video = self.video_head(self.dropout(pooled)).squeeze(-1)
        return {"video": video, "frame": frame}

    def forward(self, x: torch.Tensor) -> dict[str, Optional[torch.Tensor]]:
        return self.forward_head(self.forward_features(x))


@register_model(
    "dual",
    level="dual",
    img_size=64,
    description="Paper's dual-level net: ResNet-50 per frame -> 3-layer GRU -> frame + video heads",
)
def dual(
    pretrained: bool = False,
    img_size: int = 64,
    frames: int = 32,
    weights_path: Optional[str] = None,
    backbone: str = "resnet50",
    temporal: str = "gru",
    hidden: int = 256,
    layers: int = 3,
    head: str = "dual",
    frequency: str = "none",
    dropout: float = 0.0,
    pool: int = 16,
    frame_source: str = "temporal",
) -> DualLevelNet:
    options = dict(
        backbone=backbone, temporal=temporal, hidden=int(hidden), layers=int(layers), head=head,
        frequency=frequency, dropout=float(dropout), pool=int(pool), frame_source=frame_source,
    )
    model = DualLevelNet(pretrained=pretrained, weights_path=weights_path, **options)
    model.level = head  # "video", "frame" or "dual": the outputs this instance gives
    stage = model.backbone.cam_layer  # Grad-CAM (predict --explain): the last backbone stage
    model.cam_layer = f"backbone.{stage}" if stage else None
    return set_model_meta(
        model, name="dual", img_size=img_size, frames=frames, mean=model.backbone.mean,
        std=model.backbone.std, pretrained=pretrained, weights_path=weights_path, options=options,
    )
