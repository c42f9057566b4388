"""Validation during training: loss plus video and frame AUC, gathered across DDP ranks; the epoch log line."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from dfdetect.training.distributed import DistContext

if TYPE_CHECKING:
    import torch
    from torch import nn


@dataclass
class ValResult:
    loss: float
    video_auc: float  # NaN when undefined (one class)
    frame_auc: float
    n_videos: int


def video_and_frame_probs(outputs: dict[str, Any], mask: "torch.Tensor") -> tuple["torch.Tensor", "torch.Tensor | None"]:
    """Video probability (the video head, else the mean of unpadded frame probabilities) and
    frame probabilities (B, T) or None for video-only models."""
    import torch

    frame = outputs.get("frame")
    frame_probs = torch.sigmoid(frame.float()) if frame is not None else None
    if outputs.get("video") is not None:
        video_probs = torch.sigmoid(outputs["video"].float())
    else:
        weights = mask.to(frame_probs.dtype)
        video_probs = (frame_probs * weights).sum(1) / weights.sum(1).clamp_min(1)
    return video_probs, frame_probs


def safe_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC, NaN when only one class is present."""
    from sklearn.metrics import roc_auc_score

    if len(labels) == 0 or len(np.unique(labels)) < 2:
        return math.nan
    return float(roc_auc_score(labels, scores))


def run_validation(
    model: "nn.Module",
    loader: Any,
    loss_fn: Callable[..., Any],
    prepare: Callable[[dict[str, Any]], tuple["torch.Tensor", "torch.Tensor", "torch.Tensor"]],
    autocast: Callable[[], Any],
    dist: DistContext,
) -> ValResult:
    """One pass over the validation loader. Each rank scores its shard; scores are gathered
    with their dataset indices, so the duplicates DistributedSampler-style padding adds are
    dropped before the AUCs are computed."""
    import torch

    was_training = model.training
    model.eval()
    loss_sum, n_batches = 0.0, 0
    indices: list[int] = []
    video_scores: list[float] = []
    labels: list[float] = []
    frame_rows: list[list[float]] = []
    with torch.no_grad():
        for batch in loader:
            x, y, mask = prepare(batch)
            with autocast():
                outputs = model(x)
            loss, _ = loss_fn(outputs, y, mask)
            loss_sum += float(loss)
            n_batches += 1
            vp, fp = video_and_frame_probs(outputs, mask)
            indices += [int(i) for i in batch["index"]]
            video_scores += vp.cpu().tolist()
            labels += y.cpu().tolist()
            if fp is not None:
                fp_np, m_np = fp.cpu().numpy(), mask.cpu().numpy()
                frame_rows += [row[m].tolist() for row, m in zip(fp_np, m_np)]
    model.train(was_training)
    shards = dist.all_gather_object((indices, video_scores, labels, frame_rows, loss_sum, n_batches))
    seen: dict[int, tuple[float, float, list[float]]] = {}
    total_loss, total_batches = 0.0, 0
    for idx, vs, ls, fr, lsum, nb in shards:
        total_loss += lsum
        total_batches += nb
        for j, i in enumerate(idx):
            seen.setdefault(i, (vs[j], ls[j], fr[j] if fr else []))
    order = sorted(seen)
    v_scores = np.array([seen[i][0] for i in order])
    v_labels = np.array([seen[i][1] for i in order]).astype(int)
    f_scores = np.concatenate([np.asarray(seen[i][2], dtype=float) for i in order]) if order else np.zeros(0)
    f_labels = np.concatenate([np.full(len(seen[i][2]), seen[i][1]) for i in order]) if order else np.zeros(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        video_auc = safe_auc(v_labels, v_scores)
        frame_auc = safe_auc(f_labels.astype(int), f_scores) if len(f_scores) else math.nan
    return ValResult(total_loss / max(total_batches, 1), video_auc, frame_auc, len(order))


def epoch_line(row: dict[str, Any], epochs: int, improved: bool) -> str:
    """The log line of one epoch (rich markup); a missing metric shows as '-'."""
    def fmt(v: float) -> str:
        return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4f}"

    mark = "  [green]* best[/]" if improved else ""
    return (
        f"epoch {row['epoch']}/{epochs}  train_loss {fmt(row['train_loss'])}  "
        f"val_loss {fmt(row['val_loss'])}  val_video_auc {fmt(row['val_video_auc'])}  "
        f"val_frame_auc {fmt(row['val_frame_auc'])}  {row['time']:.1f}s{mark}"
    )
