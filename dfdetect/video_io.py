"""Video probing and streaming frame sampling with OpenCV.

Frames are read by grabbing through the video (`cap.grab()` demuxes and decodes) and converting
only the sampled ones (`cap.retrieve()`). Seeking with CAP_PROP_POS_FRAMES is about ten times
slower for long-GOP codecs, and reading every frame into memory does not scale with the video's
length, so neither is done here: at most one decoded frame is alive at a time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"})

# A container that reports more frames than this is treated as reporting garbage.
_MAX_PLAUSIBLE_FRAMES = 50_000_000


class VideoError(Exception):
    """An input video that cannot be read; the message is one line naming the reason."""


@dataclass(frozen=True)
class VideoInfo:
    """What a video says about itself. `frame_count` is counted by decoding when the container's
    CAP_PROP_FRAME_COUNT was missing or implausible (`count_exact` is then True)."""

    path: Path
    frame_count: int
    fps: float
    width: int
    height: int
    count_exact: bool = False


def quiet_ffmpeg() -> None:
    """Keep OpenCV's FFmpeg backend from printing its own errors ("moov atom not found") to
    stderr ahead of our one-line reason. The backend reads the level once, when it first opens a
    file, so this runs before every open; a level the user set wins (e.g. 32 to see them)."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET


def _open(path: Path):
    quiet_ffmpeg()
    import cv2

    if not path.exists():
        raise VideoError("no such file")
    if path.is_dir():
        raise VideoError("is a directory, not a video file")
    if path.stat().st_size == 0:
        raise VideoError("empty file (0 bytes)")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise VideoError("cannot open as a video (not a video, or a truncated/corrupt file)")
    return cap


def count_frames(path: str | os.PathLike[str]) -> int:
    """Count decodable frames by grabbing through the whole video."""
    cap = _open(Path(path))
    try:
        n = 0
        while cap.grab():
            n += 1
        return n
    finally:
        cap.release()


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Frame count, fps and size. Raises VideoError for missing, empty or undecodable files."""
    import cv2

    p = Path(path)
    cap = _open(p)
    try:
        reported = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        ok = cap.grab()  # a container can open and still hold no decodable frame
    finally:
        cap.release()
    if not ok:
        raise VideoError("no decodable frame (truncated, corrupt or not a video)")
    exact = False
    if not (reported == reported) or reported <= 0 or reported > _MAX_PLAUSIBLE_FRAMES:
        reported, exact = count_frames(p), True
    if width <= 0 or height <= 0:
        raise VideoError("the video reports no frame size")
    return VideoInfo(p, int(reported), fps if fps == fps else 0.0, width, height, exact)


def sample_indices(frame_count: int, n: int | None) -> list[int]:
    """`n` evenly spaced frame indices in [0, frame_count), first and last included; all when None.

    Fewer than `n` come back when the video is shorter (indices are unique).
    """
    if frame_count <= 0:
        return []
    if n is None or n >= frame_count:
        return list(range(frame_count))
    if n <= 1:
        return [frame_count // 2]
    return sorted({int(round(x)) for x in np.linspace(0, frame_count - 1, n)})


def iter_frames(
    path: str | os.PathLike[str], indices: Sequence[int] | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (frame index, BGR frame) for the sorted `indices` (every frame when None).

    Streams: each frame is decoded by grab() and only the wanted ones are converted with
    retrieve(). Stops early at the end of the stream, so a caller can tell a short file by the
    indices it did not get.
    """
    cap = _open(Path(path))
    wanted = None if indices is None else sorted(set(int(i) for i in indices))
    try:
        if wanted is not None and not wanted:
            return
        last = None if wanted is None else wanted[-1]
        pos = 0
        k = 0
        while last is None or pos <= last:
            if not cap.grab():
                return
            if wanted is None or pos == wanted[k]:
                ok, frame = cap.retrieve()
                if ok and frame is not None:
                    yield pos, frame
                k += 1
            pos += 1
    finally:
        cap.release()


def iter_sampled_frames(
    info: VideoInfo, n: int | None
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (index, BGR frame) for `n` evenly spaced frames (all when None).

    When the container over-reports its length (a truncated or badly muxed file), the frames past
    the real end never arrive; the real length is then known, and the sample is taken again over
    it, so a short file still gives evenly spaced frames instead of a clump at the start.
    """
    indices = sample_indices(info.frame_count, n)
    got = 0
    last_seen = -1
    for index, frame in iter_frames(info.path, None if n is None else indices):
        got += 1
        last_seen = index
        yield index, frame
    if n is None or got == len(indices) or info.count_exact:
        return
    real_count = count_frames(info.path)
    if real_count <= last_seen + 1:
        return
    # Second pass over the true length, skipping what was already yielded.
    for index, frame in iter_frames(info.path, [i for i in sample_indices(real_count, n) if i > last_seen]):
        yield index, frame
