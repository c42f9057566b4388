"""The extraction settings and the per-video result types."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from dfdetect.errors import UsageError

DETECTED, CARRIED = "detected", "carried"


@dataclass
class ExtractOptions:
    """How faces are taken from one video (`dfdetect extract` groups its flags into this).

    frames: evenly spaced frames to sample, None for every frame. scale: the square crop's side as
    a multiple of the face box's larger side. size: the crop's side in pixels after resizing.
    detect_size: frames are downscaled so their longer side is at most this for the first, cheap
    detection pass; larger passes follow only for frames where it finds nothing.
    """

    detector: str = "dlib"
    detector_model: str | None = None
    frames: int | None = 32
    scale: float = 1.3
    size: int = 128
    device: str = "auto"
    seed: int = 0
    detect_size: int = 640
    #: the largest effective upscaling tried for frames where nothing was found (2 = dlib's
    #: upsample 1 on the full frame, the DeepfakeBench reference setting).
    max_upscale: float = 2.0

    def validate(self) -> "ExtractOptions":
        if self.frames is not None and self.frames < 1:
            raise UsageError(f"--frames must be a positive number or 'all', not {self.frames}")
        if not (self.scale >= 1.0 and self.scale <= 4.0):
            raise UsageError(f"--scale must be between 1.0 and 4.0, not {self.scale}")
        if not (16 <= self.size <= 1024):
            raise UsageError(f"--size must be between 16 and 1024 pixels, not {self.size}")
        if self.detect_size < 64:
            raise UsageError(f"detect_size must be at least 64 pixels, not {self.detect_size}")
        return self

    def fingerprint(self) -> dict[str, Any]:
        """The settings that change the output stacks (a re-run into DATA must match them)."""
        return {"detector": self.detector, "frames": self.frames, "scale": self.scale, "size": self.size}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_frames(text: str | int | None) -> int | None:
    """'32' -> 32, 'all' -> None."""
    if text is None:
        return 32
    if isinstance(text, int):
        return text
    t = str(text).strip().lower()
    if t == "all":
        return None
    try:
        return int(t)
    except ValueError:
        raise UsageError(f"--frames must be a positive number or 'all', not '{text}'") from None


@dataclass
class FrameRecord:
    """One sampled frame: where its crop came from.

    box: the face box (x1, y1, x2, y2) in source pixels, or None when the video has no face.
    crop: the square crop window actually cut (clipped to the frame). source: 'detected' or
    'carried'; a carried box comes from the nearest detected frame, `box_from` names it.
    """

    index: int
    box: tuple[float, float, float, float] | None = None
    score: float | None = None
    source: str = ""
    box_from: int | None = None
    crop: tuple[int, int, int, int] | None = None
    n_candidates: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["box"] = None if self.box is None else [round(float(v), 2) for v in self.box]
        d["score"] = None if self.score is None else round(float(self.score), 4)
        d["crop"] = None if self.crop is None else [int(v) for v in self.crop]
        return d


@dataclass
class FaceExtraction:
    """The faces of one video, in memory. faces: (N, S, S, 3) uint8 RGB or None."""

    path: str
    status: str
    faces: np.ndarray | None = None
    frames: list[FrameRecord] = field(default_factory=list)
    error: str = ""
    width: int = 0
    height: int = 0
    fps: float = 0.0
    frame_count: int = 0
    seconds: float = 0.0
    #: frames that actually decode, when fewer than the container's frame_count (else 0)
    decoded_frames: int = 0
    #: a one-line remark on an ok video (e.g. a container that over-reports its length)
    note: str = ""

    @property
    def n_sampled(self) -> int:
        return len(self.frames)

    @property
    def n_faces(self) -> int:
        """Sampled frames where a face was detected (carried boxes not counted)."""
        return sum(1 for f in self.frames if f.source == DETECTED)

    def sidecar(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "status": self.status,
            "error": self.error,
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
            "frame_count": self.frame_count,
            **({"decoded_frames": self.decoded_frames} if self.decoded_frames else {}),
            **({"note": self.note} if self.note else {}),
            "frames": [f.to_dict() for f in self.frames],
        }
