"""Score face stacks with a trained model: the one inference path shared by eval, predict and
benchmark.

Sequence length. A model is trained on T frames (`config["frames"]`), but a stack can hold any
number N of face crops. We score *strided windows*: k = ceil(N / T) windows of T frames, window j
taking positions floor((i*k + j) * N / (k*T)), i = 0..T-1. Each window spans the whole clip at the
same spacing as T evenly sampled frames (how a clip's T training frames are spread), and together
the windows cover every frame. A stack of N <= T frames is one window padded by repeating its
last frame, exactly as training pads it (`dfdetect.preprocess.pad_last`); padded positions are
masked out of the frame probabilities.
Models imported from the paper's reference code record `sampling: "first"`: they were trained on
the first `frames` (300) crops of a clip padded with the last, so they are fed that one window.
- frame probabilities: the frame head's sigmoid, averaged over the windows that hold the frame
  (padding excluded);
- video probability: the video head's sigmoid averaged over the windows when the model has a
  video head, else `aggregate` (mean, max or median) of the frame probabilities.
A video-only model (or a config with `frame_metrics: false`) gives an empty frame-probability
array. Pixels go through `dfdetect.preprocess` (`clip_from_stack` then `preprocess_batch`), the
same two steps as the training and validation dataset.
Calibration (issue 24): a checkpoint that `train` calibrated on its validation videos records
`calibration` in its config (dfdetect.evaluation.calibration). The scorer applies it here, the
one place, to the video probability, so eval, predict, ensembles and the benchmark all see
calibrated probabilities. `threshold` is the one stored with it (None for an uncalibrated
checkpoint: callers fall back to 0.5). Frame probabilities stay raw: the map was fitted on video
scores, and a steep one saturates frames into ties that wreck the frame AUC; `raw_threshold`
gives a threshold's place on their scale (for timelines).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Hashable, Iterable, Iterator

import numpy as np

from dfdetect.errors import DfdetectError, UsageError

if TYPE_CHECKING:
    import torch
    from torch import nn

AGGREGATES = ("mean", "max", "median")
DEFAULT_THRESHOLD = 0.5  # for checkpoints without a calibrated one
SAMPLINGS = ("spread", "first")


@dataclass
class ScoringOptions:
    """How eval and predict turn a model's outputs into verdicts; shared so they never drift."""

    threshold: float | None = None  # None: the checkpoint's calibrated threshold, else DEFAULT_THRESHOLD
    aggregate: str = "mean"
    device: str = "auto"
    batch_size: int = 8


def check_aggregate(aggregate: str) -> str:
    if aggregate not in AGGREGATES:
        raise UsageError(f"invalid --aggregate '{aggregate}'; use one of {', '.join(AGGREGATES)}")
    return aggregate


def window_indices(n: int, t: int) -> np.ndarray:
    """(k, t) frame positions of the strided windows covering n frames (see module doc)."""
    return scoring_windows(n, t)[0]


def scoring_windows(n: int, t: int, sampling: str = "spread") -> tuple[np.ndarray, np.ndarray]:
    """(k, t) frame positions of the windows that score n frames, and (k, t) masks of the
    positions that are not padding (see module doc)."""
    from dfdetect.preprocess import pad_last

    if n <= 0 or t <= 0:
        return np.zeros((0, max(t, 0)), dtype=np.int64), np.zeros((0, max(t, 0)), dtype=bool)
    if sampling not in SAMPLINGS:
        raise UsageError(f"unknown sampling '{sampling}' in the checkpoint config; expected one of {', '.join(SAMPLINGS)}")
    if n <= t or sampling == "first":
        idx, mask = pad_last(np.arange(n), t)
        return idx[None], mask[None]
    k = max(1, math.ceil(n / t))
    grid = np.arange(t)[None, :] * k + np.arange(k)[:, None]  # (k, t) slot numbers
    idx = np.minimum((grid * n) // (k * t), n - 1).astype(np.int64)
    return idx, np.ones_like(idx, dtype=bool)


def aggregate_frames(frame_probs: np.ndarray, aggregate: str = "mean") -> float:
    if frame_probs.size == 0:
        return float("nan")
    fn = {"mean": np.mean, "max": np.max, "median": np.median}[check_aggregate(aggregate)]
    return float(fn(frame_probs))


def input_settings(model: "nn.Module", config: dict[str, Any]) -> dict[str, Any]:
    """img_size, frames, mean and std: the checkpoint's config first, then model.input_cfg;
    plus how frames are chosen (`sampling`) and whether the frame head is reported."""
    cfg = dict(getattr(model, "input_cfg", {}) or {})
    for key in ("img_size", "frames", "mean", "std"):
        if config.get(key) is not None:
            cfg[key] = config[key]
    missing = [k for k in ("img_size", "frames", "mean", "std") if cfg.get(k) is None]
    if missing:
        raise UsageError(f"the checkpoint does not record {', '.join(missing)}; re-save it with `dfdetect train`")
    return {"img_size": int(cfg["img_size"]), "frames": int(cfg["frames"]),
            "mean": list(cfg["mean"]), "std": list(cfg["std"]),
            "sampling": str(config.get("sampling") or "spread"),
            "frame_metrics": bool(config.get("frame_metrics", True))}


@dataclass
class _Pending:
    n: int
    n_windows: int
    frame_sum: np.ndarray
    frame_count: np.ndarray
    video_sum: float = 0.0
    windows_done: int = 0
    has_video: bool = False
    has_frame: bool = False


@dataclass
class StackScorer:
    """Batched scorer: windows of many stacks share forward passes of `batch_size` windows.

    `forward_seconds` accumulates the time spent in preprocessing + model forward, which
    benchmarks/predict_speed.py reports as the model's share of the work.
    """

    model: "nn.Module"
    config: dict[str, Any]
    device: "torch.device | str" = "cpu"
    aggregate: str = "mean"
    batch_size: int = 8
    forward_seconds: float = 0.0
    settings: dict[str, Any] = field(default_factory=dict)
    calibrated: bool = True  # False: raw model probabilities (what `train` fits the calibration on)

    def __post_init__(self) -> None:
        import torch

        from dfdetect.evaluation.calibration import calibration_of

        check_aggregate(self.aggregate)
        self.calibration = calibration_of(self.config) if self.calibrated else None
        self.device = torch.device(self.device)
        self.settings = input_settings(self.model, self.config)
        self.model.eval()
        # The input arrives channels_last (preprocess_batch); weights in the same layout spare the
        # CPU convolutions a layout conversion per layer (the brief: channels_last and fp32 on CPU).
        # 5-D (video) convolutions have no channels_last, so such models stay as they are.
        if self.device.type == "cpu" and all(p.dim() != 5 for p in self.model.parameters()):
            self.model.to(memory_format=torch.channels_last)
        self.batch_size = max(1, int(self.batch_size))

    @property
    def frames(self) -> int:
        return self.settings["frames"]

    @property
    def threshold(self) -> float | None:
        """The threshold stored with the calibration; None when there is none."""
        return None if self.calibration is None else float(self.calibration.threshold)

    def raw_threshold(self, threshold: float) -> float:
        """A threshold on calibrated video probabilities, taken back to the model's raw scale (frames')."""
        return threshold if self.calibration is None else float(self.calibration.invert(threshold))

    def _forward(self, windows: list[np.ndarray]) -> tuple[np.ndarray | None, np.ndarray | None]:
        import torch

        from dfdetect.preprocess import preprocess_batch

        start = time.perf_counter()
        batch = torch.from_numpy(np.ascontiguousarray(np.stack(windows)))
        s = self.settings
        with torch.inference_mode():
            x = preprocess_batch(batch, s["img_size"], s["mean"], s["std"], self.device)  # step 2
            out = self.model(x)
            video = out.get("video")
            frame = out.get("frame")
            video = torch.sigmoid(video.float()).cpu().numpy().reshape(-1) if video is not None else None
            frame = torch.sigmoid(frame.float()).cpu().numpy().reshape(len(windows), -1) if frame is not None else None
            if not s["frame_metrics"]:
                frame = None  # an untrained frame head (video-only reference checkpoint)
        self.forward_seconds += time.perf_counter() - start
        return video, frame

    def _finish(self, p: _Pending) -> tuple[float, np.ndarray]:
        scored = p.frame_count > 0  # all frames, except past the window of `sampling: first`
        frame_probs = (p.frame_sum[scored] / p.frame_count[scored]) if p.has_frame else np.zeros(0)
        if p.has_video:
            video_prob = p.video_sum / max(p.n_windows, 1)
        else:
            video_prob = aggregate_frames(frame_probs, self.aggregate)
        if self.calibration is not None:
            video_prob = float(self.calibration.apply(video_prob))
        return float(video_prob), frame_probs.astype(np.float64)

    def score_many(self, stacks: Iterable[tuple[Hashable, np.ndarray]]) -> Iterator[tuple[Hashable, float, np.ndarray]]:
        """Yield (key, video_prob, frame_probs) per (key, faces (N,S,S,3) uint8) in input order.

        An empty stack yields (key, nan, empty array). Stacks are read lazily (mmap friendly).
        """
        from dfdetect.preprocess import clip_from_stack

        t, img_size, sampling = self.frames, self.settings["img_size"], self.settings["sampling"]
        queue: list[tuple[Hashable, _Pending]] = []
        windows: list[np.ndarray] = []
        owners: list[tuple[_Pending, np.ndarray, np.ndarray]] = []

        def flush() -> None:
            if not windows:
                return
            video, frame = self._forward(windows)
            for i, (p, idx, mask) in enumerate(owners):
                if video is not None:
                    p.video_sum += float(video[i])
                    p.has_video = True
                if frame is not None:  # padded positions are left out
                    np.add.at(p.frame_sum, idx[mask], frame[i][mask])
                    np.add.at(p.frame_count, idx[mask], 1)
                    p.has_frame = True
                p.windows_done += 1
            windows.clear()
            owners.clear()

        def drain() -> Iterator[tuple[Hashable, float, np.ndarray]]:
            while queue and queue[0][1].windows_done >= queue[0][1].n_windows:
                key, p = queue.pop(0)
                if p.n == 0:
                    yield key, float("nan"), np.zeros(0)
                else:
                    yield (key, *self._finish(p))

        for key, faces in stacks:
            faces = np.asarray(faces)
            n = int(faces.shape[0]) if faces.ndim == 4 else 0
            idx_all, masks = scoring_windows(n, t, sampling)
            p = _Pending(n, len(idx_all), np.zeros(n), np.zeros(n))
            queue.append((key, p))
            for idx, mask in zip(idx_all, masks):
                windows.append(clip_from_stack(faces, idx, img_size))  # step 1, as the dataset does
                owners.append((p, idx, mask))
                if len(windows) >= self.batch_size:
                    flush()
            yield from drain()
        flush()
        yield from drain()


def score_stack(
    model: "nn.Module",
    config: dict[str, Any],
    faces_uint8: np.ndarray,
    device: "torch.device | str" = "cpu",
    aggregate: str = "mean",
) -> tuple[float, np.ndarray]:
    """Fake probability of one face stack (N,S,S,3) uint8 and its per-frame probabilities (N,)."""
    scorer = StackScorer(model, config, device, aggregate, batch_size=16)
    (_, video_prob, frame_probs), = scorer.score_many([(0, faces_uint8)])
    return video_prob, frame_probs


def resolve_threshold(override: float | None, scorer: Any) -> float:
    """--threshold when given, else the scorer's calibrated threshold, else DEFAULT_THRESHOLD."""
    if override is not None:
        return float(override)
    stored = getattr(scorer, "threshold", None)
    return DEFAULT_THRESHOLD if stored is None else float(stored)


def check_finite(video_id: str, video_prob: float, frame_probs: np.ndarray, checkpoint: str) -> None:
    """A NaN or infinite score is an error, never a skip (module doc)."""
    if np.isfinite(video_prob) and np.isfinite(frame_probs).all():
        return
    bad = video_prob if not np.isfinite(video_prob) else frame_probs[~np.isfinite(frame_probs)][0]
    level = "video" if not np.isfinite(video_prob) else "frame"
    raise DfdetectError(
        f"{video_id}: non-finite {level} score ({bad}) from checkpoint {checkpoint or '(in memory)'}; "
        "the model overflowed or its weights hold NaN; on a GPU try --device cpu"
    )
