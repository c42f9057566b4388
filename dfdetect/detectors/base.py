"""The face-detector contract and its registry.

Every backend takes a batch of RGB uint8 frames (H, W, 3) and returns, per frame, a list of
`FaceBox` in that frame's pixel coordinates. Backends register themselves with
`@DETECTORS.register("name")` where they are defined; `create_detector` (factory.py) is the one door in.
Backend modules import their heavy dependencies (torch for mtcnn) inside the class, so listing
detectors stays cheap and `--detector dlib` never imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from dfdetect.registry import Registry


@dataclass(frozen=True)
class FaceBox:
    """An axis-aligned face box in pixel coordinates (x2, y2 exclusive) with a detector score."""

    x1: float
    y1: float
    x2: float
    y2: float
    score: float = 1.0

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    @property
    def area(self) -> float:
        return max(0.0, self.width) * max(0.0, self.height)

    @property
    def center(self) -> tuple[float, float]:
        return ((self.x1 + self.x2) / 2.0, (self.y1 + self.y2) / 2.0)

    def scaled(self, factor: float) -> "FaceBox":
        """Coordinates multiplied by `factor` (maps boxes from a resized frame back)."""
        return FaceBox(self.x1 * factor, self.y1 * factor, self.x2 * factor, self.y2 * factor, self.score)

    def iou(self, other: "FaceBox") -> float:
        ix = max(0.0, min(self.x2, other.x2) - max(self.x1, other.x1))
        iy = max(0.0, min(self.y2, other.y2) - max(self.y1, other.y1))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0


class FaceDetector:
    """Base class: subclasses implement `detect_batch`."""

    name: str = "base"
    #: True when the backend benefits from many frames per call (GPU/batched networks).
    batched: bool = False

    def detect_batch(self, frames: Sequence[np.ndarray]) -> list[list[FaceBox]]:
        raise NotImplementedError

    def detect(self, frame: np.ndarray) -> list[FaceBox]:
        return self.detect_batch([frame])[0]


DETECTORS: Registry[Callable[..., FaceDetector]] = Registry("detector")
