"""A real libx264 through the ffmpeg binary that the `imageio-ffmpeg` wheel ships.

Why this one: both PyPI wheels checked carry libx264 (`ffmpeg -encoders` of imageio-ffmpeg 0.8 lists
libx264 and libx264rgb; PyAV 18's bundled libavcodec has libx264 too), but the ffmpeg binary
re-encodes a file exactly as FF++ and DeeperForensics did (`ffmpeg -i in -c:v libx264 -crf N out`)
without decoding in Python, and it needs no compiled extension. `IMAGEIO_FFMPEG_EXE` points it at
another ffmpeg. x264's output depends on its thread count, so it is pinned (`X264_THREADS`): the
same input and CRF give the same bytes on any machine.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path
from typing import Sequence

import numpy as np

from dfdetect.errors import DfdetectError

X264_THREADS = 2
FFMPEG_FIX = "install the imageio-ffmpeg wheel (pip install imageio-ffmpeg), whose ffmpeg carries libx264, or point IMAGEIO_FFMPEG_EXE at an ffmpeg built with libx264"


@functools.lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """The ffmpeg binary, or a one-line error naming the fix."""
    try:
        import imageio_ffmpeg
    except ImportError:
        raise DfdetectError(f"no ffmpeg for H.264: {FFMPEG_FIX}") from None
    try:
        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except RuntimeError as exc:
        raise DfdetectError(f"no ffmpeg for H.264 ({str(exc).strip().splitlines()[0]}): {FFMPEG_FIX}") from None


@functools.lru_cache(maxsize=1)
def encoders() -> frozenset[str]:
    """The video encoders this ffmpeg lists (`ffmpeg -encoders`)."""
    out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-encoders"], capture_output=True, text=True, check=False).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith("V") and len(parts[0]) == 6:
            names.add(parts[1])
    return frozenset(names)


def require_libx264() -> str:
    """The ffmpeg path when it has libx264; else a one-line error naming the fix."""
    exe = ffmpeg_exe()
    if "libx264" not in encoders():
        raise DfdetectError(f"{exe} has no libx264 encoder: {FFMPEG_FIX}")
    return exe


def _run(cmd: Sequence[str], what: str, data: bytes | None = None) -> bytes:
    result = subprocess.run(list(cmd), input=data, capture_output=True, check=False)
    if result.returncode != 0:
        lines = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise DfdetectError(f"ffmpeg failed to {what}: {lines[-1] if lines else f'exit code {result.returncode}'}")
    return result.stdout


def reencode_h264(src: str | os.PathLike[str], dst: str | os.PathLike[str], crf: int) -> Path:
    """Re-encode a whole video with libx264 at `crf` (x264's default preset, as FF++'s c23/c40),
    audio dropped; yuv420p so that every decoder reads it."""
    exe = require_libx264()
    _run([exe, "-nostdin", "-y", "-loglevel", "error", "-i", str(src), "-map", "0:v:0", "-an", "-c:v", "libx264",
          "-crf", str(int(crf)), "-pix_fmt", "yuv420p", "-threads", str(X264_THREADS), str(dst)], f"re-encode {src}")
    return Path(dst)


def write_lossless(frames_bgr: Sequence[np.ndarray], dst: str | os.PathLike[str], fps: float) -> Path:
    """Frames (H, W, 3) uint8 BGR to a lossless H.264 RGB video (libx264rgb -qp 0): the
    perturbation, and nothing else, changes the pixels that extraction reads back."""
    exe = require_libx264()
    h, w = frames_bgr[0].shape[:2]
    data = b"".join(np.ascontiguousarray(f, dtype=np.uint8).tobytes() for f in frames_bgr)
    _run([exe, "-nostdin", "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{w}x{h}",
          "-r", f"{fps if fps > 0 else 25:g}", "-i", "-", "-c:v", "libx264rgb", "-qp", "0", "-preset", "ultrafast",
          "-threads", str(X264_THREADS), str(dst)], f"write {dst}", data)
    return Path(dst)


def h264_roundtrip(clip_rgb: np.ndarray, crf: int, preset: str = "veryfast") -> np.ndarray:
    """A (T, H, W, 3) uint8 RGB clip encoded with libx264 at `crf` and decoded back (same shape).

    Two ffmpeg processes joined by bytes (an H.264 elementary stream); odd sizes are padded to
    even (yuv420p needs it) and cropped back."""
    exe = require_libx264()
    t, h, w, _ = clip_rgb.shape
    ph, pw = h + h % 2, w + w % 2
    clip = clip_rgb if (ph, pw) == (h, w) else np.pad(clip_rgb, ((0, 0), (0, ph - h), (0, pw - w), (0, 0)), mode="edge")
    stream = _run([exe, "-nostdin", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{pw}x{ph}",
                   "-r", "25", "-i", "-", "-c:v", "libx264", "-crf", str(int(crf)), "-preset", preset,
                   "-threads", "1", "-pix_fmt", "yuv420p", "-f", "h264", "-"], "encode a clip", np.ascontiguousarray(clip).tobytes())
    raw = _run([exe, "-nostdin", "-loglevel", "error", "-f", "h264", "-i", "-", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
               "decode a clip", stream)
    out = np.frombuffer(raw, dtype=np.uint8)
    if out.size != t * ph * pw * 3:
        raise DfdetectError(f"ffmpeg returned {out.size // (ph * pw * 3)} frames for a clip of {t}")
    return out.reshape(t, ph, pw, 3)[:, :h, :w].copy()
