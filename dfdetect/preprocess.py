"""The one path from a uint8 face stack to the model's input tensor.

Every consumer (the training and validation `FaceStackDataset`, `eval`'s and `predict`'s
`StackScorer`, `benchmark`) calls the same two steps in the same order, so a model sees the same
pixels wherever it runs (tests/test_parity.py checks max |delta| = 0):

1. `clip_from_stack(stack, indices, img_size)` -> uint8 (T, img, img, 3): frame choice (the
   indices, padding included, come from `sample_indices` or the scorer's windows) and resize.
   It runs per clip on the CPU, in the DataLoader worker during training.
2. `preprocess_batch(frames, img_size, mean, std, device)` -> float (B, T, 3, img, img): scaling
   to [0, 1], normalisation and channels_last layout, batched on the target device.
(Training applies its augmentation between the two, on uint8.)

Padding. A stack with fewer frames than the model's T is padded by repeating its last frame, and
a mask marks the padding (left out of the frame loss and of the frame metrics). The same scheme
everywhere, and the one the paper's reference code uses.

Resize filter: OpenCV INTER_AREA to shrink, INTER_CUBIC to enlarge, per frame on uint8.
experiments/checks/resize_choice.py measured it on real face crops (3 fixture videos, 32-frame clips, one
core) against a PIL Lanczos reference made from 256 px crops:
    128->64: cv2 area 0.16 ms/clip, mae 0.53, high-frequency energy 0.97 of the reference;
             torch bilinear+antialias (eval's old path) 11 ms (70x), mae 0.97, hf 0.56 (it blurs);
    100->64: cv2 area 1.8 ms, mae 0.68, hf 0.75; torch bilinear+aa 8.5 ms, mae 0.90, hf 0.61;
    128->224: cv2 cubic 3.9 ms, mae 0.55, hf 0.57; cv2 linear 1.9 ms, mae 0.66, hf 0.45;
             torch bilinear 53 ms.
Area averaging keeps the high frequencies where deepfake artefacts live, it is the filter
`extract` itself uses for its crops, and in the worker it costs far less than batched
F.interpolate. Cubic is the closer of the cheap upscalers; its extra ~2 ms per clip is noise next
to a forward pass.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:
    import torch


def sample_indices(n_frames: int, frames: int, rng: np.random.Generator | None) -> tuple[np.ndarray, np.ndarray]:
    """Pick `frames` frame indices out of `n_frames` and a mask of which are real (not padding).

    Train (rng given): evenly spaced segments with a random pick inside each segment (TSN-style
    jitter), so the clip still spans the video with even-ish spacing. Eval (rng None): segment
    centres, deterministic. Fewer frames than asked: `pad_last`.
    """
    if n_frames <= 0:
        raise ValueError("empty face stack")
    if n_frames <= frames:
        return pad_last(np.arange(n_frames), frames)
    edges = np.linspace(0, n_frames, frames + 1)
    starts = np.floor(edges[:-1]).astype(np.int64)
    stops = np.maximum(np.floor(edges[1:]).astype(np.int64), starts + 1)
    if rng is None:
        idx = (starts + stops - 1) // 2
    else:
        idx = rng.integers(starts, stops)
    return idx.astype(np.int64), np.ones(frames, dtype=bool)


def pad_last(indices: np.ndarray, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `frames` of `indices`, padded to `frames` by repeating the last; mask = not padding."""
    indices = np.asarray(indices, dtype=np.int64)[:frames]
    if len(indices) == 0:
        raise ValueError("empty face stack")
    mask = np.arange(frames) < len(indices)
    return np.concatenate([indices, np.full(frames - len(indices), indices[-1], dtype=np.int64)]), mask


def resize_clip(clip: np.ndarray, size: int) -> np.ndarray:
    """Resize (T, H, W, 3) uint8 to (T, size, size, 3), frame by frame (filter: module doc)."""
    import cv2

    clip = np.asarray(clip)
    if clip.shape[1] == size and clip.shape[2] == size:
        return np.ascontiguousarray(clip)
    interp = cv2.INTER_AREA if clip.shape[1] > size else cv2.INTER_CUBIC
    out = np.empty((clip.shape[0], size, size, 3), dtype=np.uint8)
    for t in range(clip.shape[0]):
        cv2.resize(np.ascontiguousarray(clip[t]), (size, size), dst=out[t], interpolation=interp)
    return out


def clip_from_stack(stack: np.ndarray, indices: np.ndarray, img_size: int | None) -> np.ndarray:
    """Step 1: the frames at `indices` of a (N, S, S, 3) uint8 stack, resized: uint8 (T, img, img, 3).

    Fancy indexing copies only the chosen frames out of a memory-mapped stack.
    """
    clip = np.asarray(stack[np.asarray(indices, dtype=np.int64)], dtype=np.uint8)
    return resize_clip(clip, img_size) if img_size else np.ascontiguousarray(clip)


def preprocess_batch(
    frames: "torch.Tensor | np.ndarray",
    img_size: int,
    mean: Sequence[float],
    std: Sequence[float],
    device: "torch.device | str" = "cpu",
) -> "torch.Tensor":
    """Step 2: uint8 (B, T, H, W, 3) -> float (B, T, 3, img_size, img_size), normalised, on `device`.

    Frames not yet at img_size go through `resize_clip` first (the same filter as step 1, so a
    caller that skips step 1's resize still gets identical pixels). The channel permute is a
    view, so the result is channels_last in memory: flattened to (B*T, 3, H, W) for the backbone
    it needs no copy.
    """
    import torch

    if isinstance(frames, torch.Tensor):
        if frames.ndim == 5 and tuple(frames.shape[2:4]) != (img_size, img_size):
            frames = frames.cpu().numpy()
    if not isinstance(frames, torch.Tensor):
        arr = np.asarray(frames)
        if arr.ndim != 5 or arr.shape[-1] != 3:
            raise ValueError(f"preprocess_batch expects (B, T, H, W, 3), got {tuple(arr.shape)}")
        if arr.shape[2] != img_size or arr.shape[3] != img_size:
            b, t = arr.shape[:2]
            arr = resize_clip(arr.reshape(b * t, *arr.shape[2:]), img_size).reshape(b, t, img_size, img_size, 3)
        frames = torch.from_numpy(np.ascontiguousarray(arr))
    if frames.ndim != 5 or frames.shape[-1] != 3:
        raise ValueError(f"preprocess_batch expects (B, T, H, W, 3), got {tuple(frames.shape)}")
    device = torch.device(device)
    B, T, H, W, _ = frames.shape
    x = frames.to(device, non_blocking=True).reshape(B * T, H, W, 3).permute(0, 3, 1, 2)
    x = x.float().div_(255.0)
    m = torch.tensor(mean, device=device, dtype=x.dtype).view(1, 3, 1, 1)
    s = torch.tensor(std, device=device, dtype=x.dtype).view(1, 3, 1, 1)
    x = x.sub_(m).div_(s)
    return x.unflatten(0, (B, T))  # a view whatever the memory format


def model_input(
    stack: np.ndarray,
    indices: np.ndarray,
    img_size: int,
    mean: Sequence[float],
    std: Sequence[float],
    device: "torch.device | str" = "cpu",
) -> "torch.Tensor":
    """Both steps for one clip: (1, T, 3, img, img), exactly what the model sees for `indices`."""
    return preprocess_batch(clip_from_stack(stack, indices, img_size)[None], img_size, mean, std, device)
