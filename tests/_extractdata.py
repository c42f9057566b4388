"""Small videos for the extract tests: synthetic clips, hand-composed frames, bad files."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import cv2
import numpy as np

from conftest import FIXTURE_VIDEOS as FIXTURES, fixture_clip  # noqa: F401  (re-exported)
from dfdetect.synth import load_portrait, make_clip
from dfdetect.synth.portrait import FACE_BOX


def synth_clip(path: Path, *, seed: int = 0, fake: bool = False, width: int = 160, height: int = 128,
               n_frames: int = 10) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return make_clip(path, fake=fake, seed=seed, width=width, height=height, n_frames=n_frames)


def write_frames(path: Path, frames: Iterable[np.ndarray], fps: float = 25.0) -> Path:
    """Write BGR frames as an mp4 (mp4v)."""
    frames = list(frames)
    h, w = frames[0].shape[:2]
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for f in frames:
        writer.write(f)
    writer.release()
    return path


def face_patch(face_side: int) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The portrait cut around its face (BGR) so that the face box is `face_side` pixels, and
    that box in the patch's coordinates."""
    rgb = load_portrait()
    x1, y1, x2, y2 = FACE_BOX
    side = x2 - x1
    m = 0.45 * side
    cx1, cy1 = int(max(0, x1 - m)), int(max(0, y1 - m))
    cx2, cy2 = int(min(rgb.shape[1], x2 + m)), int(min(rgb.shape[0], y2 + m))
    patch = cv2.cvtColor(np.ascontiguousarray(rgb[cy1:cy2, cx1:cx2]), cv2.COLOR_RGB2BGR)
    k = face_side / side
    patch = cv2.resize(patch, None, fx=k, fy=k, interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR)
    return patch, ((x1 - cx1) * k, (y1 - cy1) * k, (x2 - cx1) * k, (y2 - cy1) * k)


def canvas(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A smooth, face-free background."""
    rng = np.random.default_rng(seed)
    small = rng.integers(40, 200, (max(2, height // 32), max(2, width // 32), 3), dtype=np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


def paste(frame: np.ndarray, patch: np.ndarray, x: int, y: int) -> None:
    h, w = patch.shape[:2]
    frame[y:y + h, x:x + w] = patch[: frame.shape[0] - y, : frame.shape[1] - x]


def face_frame(width: int, height: int, face_side: int, x: int, y: int, seed: int = 0) -> tuple[np.ndarray, tuple]:
    """A frame with one face; returns it and the face box in frame coordinates."""
    frame = canvas(width, height, seed)
    patch, (bx1, by1, bx2, by2) = face_patch(face_side)
    paste(frame, patch, x, y)
    return frame, (x + bx1, y + by1, x + bx2, y + by2)


def truncated_copy(src: Path, dst: Path, keep: float = 0.5) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst
