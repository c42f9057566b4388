"""Write the perturbed copy of one video file.

- "frame" perturbations touch each frame on its own, so only the frames that extraction will
  sample (`sample_indices(frame_count, frames)`, the same choice `extract_faces` makes) are
  decoded, perturbed and written, losslessly (libx264rgb -qp 0): extraction then samples exactly
  those frames back, and only the perturbation has changed their pixels.
- "video" perturbations (H.264) re-encode the whole stream: an encoder needs its neighbours.
Random perturbations draw from a generator seeded by (seed, video content, operation, frame
index), so the output never depends on the worker count or on the order of the work.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from dfdetect.robustness.registry import FRAME, Perturbation


def operation_key(pert: Perturbation, level: int) -> str:
    """What the cache keys on: the operation and its parameter (two names for one operation share it)."""
    value = pert.param(level)
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return f"{pert.apply.__name__}-{text}"


def seed_words(seed: int, video_hash: str, operation: str) -> list[int]:
    """Entropy for np.random.default_rng: the same (seed, video, operation) gives the same draws."""
    digest = hashlib.sha256(f"{seed}|{video_hash}|{operation}".encode()).digest()
    return [int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4)]


def perturb_video(src: str | os.PathLike[str], dst: str | os.PathLike[str], pert: Perturbation, level: int,
                  frames: int | None, seed_entropy: list[int]) -> Path:
    """Write `src` degraded by `pert` at `level` to `dst` (an .mp4); raises on an unreadable input."""
    from dfdetect.video_io import VideoError, iter_frames, probe, sample_indices

    dst = Path(dst)
    if pert.kind != FRAME:
        pert.apply(src, dst, pert.param(level))
        return dst
    info = probe(src)
    indices = sample_indices(info.frame_count, frames)
    out = []
    for index, frame in iter_frames(src, None if frames is None else indices):
        rng = np.random.default_rng([*seed_entropy, index]) if pert.random else None
        out.append(pert.apply(frame, pert.param(level), rng))
    if not out:
        raise VideoError("no decodable frame")
    from dfdetect.robustness.ffmpeg import write_lossless

    return write_lossless(out, dst, info.fps)
