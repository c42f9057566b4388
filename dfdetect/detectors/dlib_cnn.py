"""dlib's CNN face detector (max-margin object detection, MMOD), batched over frames.

It needs `mmod_human_face_detector.dat`: from `--detector-model PATH`, or from the
`face_recognition_models` package (pure data, found with find_spec and never imported: its
__init__ pulls in pkg_resources). dlib runs it on the CPU unless dlib itself was built with CUDA.
"""

from __future__ import annotations

import importlib.util
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import numpy as np

from dfdetect.detectors.base import DETECTORS, FaceBox, FaceDetector
from dfdetect.errors import DfdetectError

MODEL_FILE = "mmod_human_face_detector.dat"
MIN_SIDE = 32
FIXES = "fix: pass --detector-model PATH to mmod_human_face_detector.dat, or pip install face_recognition_models"


def find_mmod_model(model_path: str | Path | None = None) -> Path:
    """The MMOD weights: `model_path` when given, else the copy in face_recognition_models."""
    if model_path is not None:
        path = Path(model_path).expanduser()
        if path.is_dir():
            path = path / MODEL_FILE
        if not path.is_file():
            raise DfdetectError(f"--detector-model {model_path} does not exist; {FIXES}")
        return path
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            candidate = Path(folder) / "models" / MODEL_FILE
            if candidate.is_file():
                return candidate
    raise DfdetectError(f"detector 'dlib-cnn' needs {MODEL_FILE} and none was found; {FIXES}")


def as_dlib_image(frame: np.ndarray) -> np.ndarray:
    """dlib takes contiguous uint8 (H, W) grey or (H, W, 3) RGB."""
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    elif frame.ndim == 3 and frame.shape[2] > 3:
        frame = frame[:, :, :3]
    frame = np.ascontiguousarray(frame, dtype=np.uint8)
    # MMOD's convolutions fail on, or even crash (segfault) for, images a few pixels across:
    # pad tiny frames with black at the bottom/right, which leaves box coordinates unchanged.
    h, w = frame.shape[:2]
    if h < MIN_SIDE or w < MIN_SIDE:
        pad = ((0, max(0, MIN_SIDE - h)), (0, max(0, MIN_SIDE - w))) + ((0, 0),) * (frame.ndim - 2)
        frame = np.pad(frame, pad)
    return frame


@DETECTORS.register("dlib-cnn", description="dlib CNN (MMOD) face detector; needs mmod_human_face_detector.dat")
class DlibCnnDetector(FaceDetector):
    name = "dlib-cnn"
    batched = True

    def __init__(
        self,
        model_path: str | None = None,
        upsample: int = 0,
        threshold: float | None = None,
        batch_size: int = 8,
        device: str | None = None,  # accepted for a uniform interface; dlib picks CPU/CUDA itself
    ) -> None:
        import dlib

        self.model_path = find_mmod_model(model_path)
        try:
            self._detector = dlib.cnn_face_detection_model_v1(str(self.model_path))
        except RuntimeError as error:  # dlib's deserialisation error, e.g. a truncated or wrong file
            raise DfdetectError(f"cannot load {self.model_path} as an MMOD face detector ({error}); {FIXES}") from None
        self.upsample = int(upsample)
        self.threshold = threshold
        self.batch_size = max(1, int(batch_size))

    def detect_batch(self, frames: Sequence[np.ndarray]) -> list[list[FaceBox]]:
        results: list[list[FaceBox]] = [[] for _ in frames]
        # dlib's batched call wants images of one size and one channel count.
        groups: dict[tuple[int, ...], list[int]] = defaultdict(list)
        images = [as_dlib_image(frame) for frame in frames]
        for i, image in enumerate(images):
            groups[image.shape].append(i)
        for indices in groups.values():
            h, w = frames[indices[0]].shape[:2]
            for lo in range(0, len(indices), self.batch_size):
                chunk = indices[lo : lo + self.batch_size]
                batch = [images[i] for i in chunk]
                detections = self._detector(batch, self.upsample, batch_size=len(batch))
                for i, found in zip(chunk, detections):
                    results[i] = [
                        FaceBox(
                            max(0, d.rect.left()), max(0, d.rect.top()),
                            min(w, d.rect.right() + 1), min(h, d.rect.bottom() + 1), float(d.confidence),
                        )
                        for d in found
                        if (self.threshold is None or d.confidence >= self.threshold)
                        and d.rect.right() >= 0 and d.rect.bottom() >= 0 and d.rect.left() < w and d.rect.top() < h
                    ]
        return results
