"""OpenCV's bundled Haar cascade (Viola-Jones): a light CPU fallback that needs no model download.

Scores are the cascade's level weights (detectMultiScale3 with outputRejectLevels): larger means
more confident, but they are on their own scale, not comparable with other backends' scores.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from dfdetect.detectors.base import DETECTORS, FaceBox, FaceDetector
from dfdetect.errors import DfdetectError

DEFAULT_CASCADE = "haarcascade_frontalface_default.xml"


def as_grey(frame: np.ndarray) -> np.ndarray:
    """(H, W), (H, W, 1), (H, W, 3) RGB or (H, W, 4) RGBA uint8 -> contiguous (H, W) uint8."""
    import cv2

    if frame.ndim == 3:
        if frame.shape[2] == 1:
            frame = frame[:, :, 0]
        else:
            frame = cv2.cvtColor(np.ascontiguousarray(frame[:, :, :3]), cv2.COLOR_RGB2GRAY)
    return np.ascontiguousarray(frame, dtype=np.uint8)


@DETECTORS.register("opencv", description="OpenCV Haar cascade (frontal face); light CPU fallback, no model file")
class OpenCvHaarDetector(FaceDetector):
    name = "opencv"

    def __init__(
        self,
        model_path: str | None = None,
        scale_factor: float = 1.1,
        min_neighbors: int = 5,
        min_size: int = 24,
        equalize: bool = True,
        device: str | None = None,  # accepted for a uniform interface; the cascade runs on the CPU
    ) -> None:
        import cv2

        if not hasattr(cv2, "CascadeClassifier"):
            raise DfdetectError(
                f"detector 'opencv' needs OpenCV 4 (OpenCV {cv2.__version__} has no Haar cascades); "
                "fix: pip install 'opencv-python-headless>=4.8,<5', or use --detector dlib"
            )
        path = Path(model_path).expanduser() if model_path else Path(cv2.data.haarcascades) / DEFAULT_CASCADE
        if not path.is_file():
            raise DfdetectError(
                f"--detector-model {path} does not exist; fix: pass a Haar cascade XML or leave "
                f"--detector-model unset for OpenCV's bundled {DEFAULT_CASCADE}"
            )
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise DfdetectError(f"{path} is not a Haar cascade OpenCV can load; fix: pass a cascade XML file")
        self.model_path = path
        self.scale_factor = float(scale_factor)
        self.min_neighbors = int(min_neighbors)
        self.min_size = int(min_size)
        self.equalize = bool(equalize)

    def detect_batch(self, frames: Sequence[np.ndarray]) -> list[list[FaceBox]]:
        import cv2

        results = []
        for frame in frames:
            grey = as_grey(frame)
            h, w = grey.shape[:2]
            if min(h, w) < self.min_size:  # smaller than the cascade window: nothing to find
                results.append([])
                continue
            if self.equalize:  # the cascade was trained on equalised crops; helps dim footage
                grey = cv2.equalizeHist(grey)
            rects, _, weights = self._cascade.detectMultiScale3(
                grey, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
                minSize=(self.min_size, self.min_size), outputRejectLevels=True,
            )
            boxes = [
                FaceBox(max(0, x), max(0, y), min(w, x + bw), min(h, y + bh), float(score))
                for (x, y, bw, bh), score in zip(np.asarray(rects).reshape(-1, 4).tolist(), np.ravel(weights).tolist())
            ]
            results.append(sorted(boxes, key=lambda b: b.score, reverse=True))
        return results
