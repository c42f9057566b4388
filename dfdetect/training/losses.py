"""Losses: a registry of per-level losses and the dual-level combination.

Every registered loss is `(logits (N,), targets (N,) float in [0, 1]) -> scalar`, for label
1 = fake. `create_loss(name, **opts)` drops options that are None (a CLI flag the user did not
set) and rejects options the loss does not take, so a typo never passes silently.

The `auc` loss follows the method (docs/method.md): L = alpha*BCE + (1-alpha)*AUC, where, with s = sigmoid(logit),
AUC = mean over the (fake i, real j) pairs that violate the margin (s_i - s_j < gamma) of
(gamma - (s_i - s_j))^p. Pairs that already meet the margin are left out of the mean (not
counted as zeros), so the term keeps its scale while few pairs remain violated. No violating
pair, or a batch with one class, gives an AUC term of 0 and L = alpha*BCE. Fakes are the
positives: minimising the term pushes fake scores above real ones (the reference code's swap is
not reproduced; tests/test_losses.py checks the sign).
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, Callable, Optional

from dfdetect.errors import UsageError
from dfdetect.registry import Registry

if TYPE_CHECKING:
    import torch

LossFn = Callable[["torch.Tensor", "torch.Tensor"], "torch.Tensor"]
LOSSES: Registry[Callable[..., LossFn]] = Registry("loss")


def create_loss(name: str, **opts: Any) -> LossFn:
    """Build a registered loss. None-valued options are dropped; unknown ones are an error."""
    factory = LOSSES.get(name)
    opts = {k: v for k, v in opts.items() if v is not None}
    accepted = set(inspect.signature(factory).parameters)
    extra = sorted(set(opts) - accepted)
    if extra:
        takes = ", ".join(sorted(accepted)) or "no options"
        raise UsageError(f"loss '{name}' does not take {', '.join(extra)} (it takes: {takes})")
    return factory(**opts)


def list_losses() -> list[str]:
    return LOSSES.names()


def _pos_weight_tensor(pos_weight: Optional[float], like: "torch.Tensor") -> Optional["torch.Tensor"]:
    import torch

    return None if pos_weight is None else torch.as_tensor(float(pos_weight), dtype=like.dtype, device=like.device)


def pairwise_auc_term(logits: "torch.Tensor", targets: "torch.Tensor", gamma: float = 0.15, p: float = 2.0) -> "torch.Tensor":
    """Mean over violating (fake, real) pairs of (gamma - (s_fake - s_real))^p; 0 when none."""
    import torch

    scores = torch.sigmoid(logits.float())
    fake = targets >= 0.5
    pos, neg = scores[fake], scores[~fake]
    margin = pos[:, None] - neg[None, :]  # (n_fake, n_real), all pairs at once
    violating = margin < gamma
    penalty = torch.where(violating, (gamma - margin).clamp_min(0) ** p, torch.zeros_like(margin))
    # 0 * sum keeps the graph (and device/dtype) when there are no pairs at all.
    return penalty.sum() / violating.sum().clamp_min(1) + 0.0 * scores.sum()


class BCELoss:
    """Binary cross-entropy on logits, with an optional weight on the fake class."""

    def __init__(self, pos_weight: Optional[float] = None) -> None:
        self.pos_weight = pos_weight

    def __call__(self, logits: "torch.Tensor", targets: "torch.Tensor") -> "torch.Tensor":
        import torch.nn.functional as F

        logits = logits.float()
        return F.binary_cross_entropy_with_logits(
            logits, targets.float(), pos_weight=_pos_weight_tensor(self.pos_weight, logits)
        )


class AUCLoss:
    """alpha*BCE + (1-alpha)*pairwise AUC surrogate (docs/method.md; alpha=0.5, gamma=0.15, p=2)."""

    def __init__(self, alpha: float = 0.5, gamma: float = 0.15, p: float = 2.0, pos_weight: Optional[float] = None) -> None:
        if not 0.0 <= alpha <= 1.0:
            raise UsageError(f"--alpha must be in [0, 1], got {alpha}")
        if gamma <= 0 or p <= 0:
            raise UsageError(f"--gamma and --p must be positive, got gamma={gamma}, p={p}")
        self.alpha, self.gamma, self.p = float(alpha), float(gamma), float(p)
        self.bce = BCELoss(pos_weight)

    def __call__(self, logits: "torch.Tensor", targets: "torch.Tensor") -> "torch.Tensor":
        auc = pairwise_auc_term(logits, targets, self.gamma, self.p)
        if self.alpha == 0.0:
            return auc
        return self.alpha * self.bce(logits, targets) + (1.0 - self.alpha) * auc


class FocalLoss:
    """Sigmoid focal loss (Lin et al.): BCE scaled by (1 - p_t)^gamma; alpha weights the fakes."""

    def __init__(self, gamma: float = 2.0, alpha: Optional[float] = None) -> None:
        self.gamma, self.alpha = float(gamma), alpha

    def __call__(self, logits: "torch.Tensor", targets: "torch.Tensor") -> "torch.Tensor":
        from torchvision.ops import sigmoid_focal_loss

        return sigmoid_focal_loss(
            logits.float(), targets.float(), alpha=-1 if self.alpha is None else float(self.alpha),
            gamma=self.gamma, reduction="mean",
        )


class TwoClassCELoss:
    """Two-class softmax cross-entropy on the logit pair [0, z] (real, fake). softmax([0, z])
    equals sigmoid(z), so without smoothing this is BCE; it exists for DeepfakeBench-style
    two-logit training with `label_smoothing`."""

    def __init__(self, label_smoothing: float = 0.0) -> None:
        self.label_smoothing = float(label_smoothing)

    def __call__(self, logits: "torch.Tensor", targets: "torch.Tensor") -> "torch.Tensor":
        import torch
        import torch.nn.functional as F

        logits = logits.float()
        pair = torch.stack([torch.zeros_like(logits), logits], dim=-1)
        soft = torch.stack([1.0 - targets.float(), targets.float()], dim=-1)
        return F.cross_entropy(pair, soft, label_smoothing=self.label_smoothing)


@LOSSES.register("bce", "Binary cross-entropy on logits (--pos-weight weights the fakes)")
def bce(pos_weight: Optional[float] = None) -> LossFn:
    return BCELoss(pos_weight)


@LOSSES.register("auc", "alpha*BCE + (1-alpha)*pairwise AUC with margin gamma and power p (the paper's)")
def auc(alpha: float = 0.5, gamma: float = 0.15, p: float = 2.0, pos_weight: Optional[float] = None) -> LossFn:
    return AUCLoss(alpha, gamma, p, pos_weight)


@LOSSES.register("focal", "Sigmoid focal loss (Lin et al.; focusing gamma 2 in the library API)")
def focal(gamma: float = 2.0, alpha: Optional[float] = None) -> LossFn:
    return FocalLoss(gamma, alpha)


@LOSSES.register("ce", "Two-class cross-entropy on [0, logit] (= BCE unless label_smoothing > 0)")
def ce(label_smoothing: float = 0.0) -> LossFn:
    return TwoClassCELoss(label_smoothing)


class DualLevelLoss:
    """beta*L_video + (1-beta)*L_frame, with every frame taking its video's label.

    Works for any output dict: with only one level present that level's loss is the total.
    `frame_mask` (B, T) bool marks real (not padded) frames; padded frames are left out.
    Returns (total, parts) where parts holds floats for logging: "video", "frame", "total".
    """

    def __init__(self, level_loss: LossFn, beta: float = 0.6) -> None:
        if not 0.0 <= beta <= 1.0:
            raise UsageError(f"--beta must be in [0, 1], got {beta}")
        self.level_loss, self.beta = level_loss, float(beta)

    def __call__(
        self,
        outputs: dict[str, Optional["torch.Tensor"]],
        video_targets: "torch.Tensor",
        frame_mask: Optional["torch.Tensor"] = None,
    ) -> tuple["torch.Tensor", dict[str, float]]:
        video, frame = outputs.get("video"), outputs.get("frame")
        if video is None and frame is None:
            raise ValueError("model outputs hold neither 'video' nor 'frame' logits")
        targets = video_targets.float()
        parts: dict[str, float] = {}
        video_loss = frame_loss = None
        if video is not None:
            video_loss = self.level_loss(video.reshape(-1), targets.reshape(-1))
            parts["video"] = float(video_loss.detach())
        if frame is not None:
            frame_targets = targets.reshape(-1, 1).expand_as(frame)
            if frame_mask is not None:
                mask = frame_mask.to(device=frame.device, dtype=bool)
                frame_logits, frame_targets = frame[mask], frame_targets[mask]
            else:
                frame_logits, frame_targets = frame.reshape(-1), frame_targets.reshape(-1)
            frame_loss = self.level_loss(frame_logits, frame_targets)
            parts["frame"] = float(frame_loss.detach())
        if video_loss is not None and frame_loss is not None:
            total = self.beta * video_loss + (1.0 - self.beta) * frame_loss
        else:
            total = video_loss if video_loss is not None else frame_loss
        parts["total"] = float(total.detach())
        return total, parts
