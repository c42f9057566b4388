"""Fast, coarse-to-fine face detection on sampled frames.

The first pass runs on a downscaled frame (longer side at most `detect_size`), which finds the
common case (a face larger than ~1/8 of the frame) at a fraction of the full-resolution cost.
Only frames where it finds nothing go through the retries: the frame padded with a border (an
already-cropped face that fills the frame leaves a sliding-window detector no context around
it), then larger and larger upscales up to `max_upscale` (2 = dlib's `upsample 1` on the full
frame, the DeepfakeBench reference setting), which catch small faces. The pass that last found a
face in this video is tried first on the next frame, so a video of small faces does not pay for
the failing coarse pass every time. Frames after a detection are searched first in a window
around the tracked face (see ROI_FACTOR); the full passes run only when it is not there. When the subject being tracked is known (`near`), a pass that
finds only other faces (a bigger face entering) does not end the search: the finer passes run too,
so the smaller tracked face is still among the candidates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from dfdetect.detectors.base import FaceBox, FaceDetector
from dfdetect.extraction.tracking import continues

PAD_FRACTION = 0.3
TIGHT_SIDE = 160
PRUNE_AFTER = 4
# The largest image any pass may build: 2x a 1080p frame (dlib upsample=1 on 1080p, as the
# reference does). Above 1080p the strongest pass is upscaled less (4K: about 1x).
MAX_PASS_PIXELS = 3840 * 2160  # the padded pass sees the frame's shorter side at this many pixels
# Tracking window: once a face is known, the next frame is first searched only in a square of
# ROI_FACTOR x its size around it, scaled so the face is about ROI_FACE_PX (dlib's HOG window is
# 80 px). That is a few times fewer pixels than the whole downscaled frame, and small faces in
# large frames are found without upscaling the whole frame.
ROI_FACTOR = 2.2
ROI_FACE_PX = 90.0


@dataclass(frozen=True)
class Pass:
    """One detection attempt: resize the frame by `scale`, then add `pad` x its size per side."""

    scale: float
    pad: float = 0.0


def plan_passes(height: int, width: int, detect_size: int, max_upscale: float) -> list[Pass]:
    """The detection passes for a frame size, cheapest first."""
    longest = max(height, width)
    base = min(1.0, detect_size / longest)
    # HOG's feature pyramid needs ~8 bytes per pixel: cap the largest pass so memory stays bounded.
    max_upscale = max(base, min(max_upscale, (MAX_PASS_PIXELS / float(height * width)) ** 0.5))
    # A face that fills the frame is big: the padded pass can run on a small copy of the frame.
    tight = min(base, TIGHT_SIDE / min(height, width))
    passes = [Pass(base), Pass(tight, PAD_FRACTION)]
    scale = base * 2
    while scale < max_upscale * 0.999:
        passes.append(Pass(scale))
        scale *= 2
    if base < max_upscale:
        passes.append(Pass(max_upscale))
    return passes


def _prepare(image: np.ndarray, p: Pass) -> tuple[np.ndarray, int]:
    """The resized (and padded) image for a pass, and the pad offset in its pixels."""
    import cv2

    if p.scale != 1.0:
        interp = cv2.INTER_AREA if p.scale < 1.0 else cv2.INTER_LINEAR
        image = cv2.resize(image, None, fx=p.scale, fy=p.scale, interpolation=interp)
    offset = 0
    if p.pad > 0:
        offset = int(round(p.pad * max(image.shape[:2])))
        image = cv2.copyMakeBorder(image, offset, offset, offset, offset, cv2.BORDER_CONSTANT, value=0)
    return np.ascontiguousarray(image), offset


def _map_back(box: FaceBox, p: Pass, offset: int, height: int, width: int) -> FaceBox | None:
    x1 = min(max((box.x1 - offset) / p.scale, 0.0), width)
    y1 = min(max((box.y1 - offset) / p.scale, 0.0), height)
    x2 = min(max((box.x2 - offset) / p.scale, 0.0), width)
    y2 = min(max((box.y2 - offset) / p.scale, 0.0), height)
    if x2 - x1 < 2 or y2 - y1 < 2:  # a box that lay almost wholly in the padding
        return None
    return FaceBox(x1, y1, x2, y2, box.score)


class CoarseToFineDetector:
    """Wraps any FaceDetector with the pass plan above. Make one per video (it remembers which
    pass worked), or call `reset()` between videos."""

    def __init__(self, detector: FaceDetector, detect_size: int = 640, max_upscale: float = 2.0,
                 track_window: bool = True) -> None:
        self.detector = detector
        self.track_window = track_window
        self.detect_size = int(detect_size)
        self.max_upscale = float(max_upscale)
        # dlib HOG works on intensity: a grey frame is a third of the work with the same boxes.
        self.grey = bool(getattr(detector, "accepts_grey", False))
        self.batch_size = 8 if getattr(detector, "batched", False) else 1
        self._preferred: Pass | None = None
        self._wins: dict[Pass, int] = {}
        self._fails: dict[Pass, int] = {}
        self.passes_run = 0
        self.roi_hits = 0

    def reset(self) -> None:
        self._preferred = None
        self._wins, self._fails = {}, {}

    def _input(self, frame_bgr: np.ndarray) -> np.ndarray:
        import cv2

        code = cv2.COLOR_BGR2GRAY if self.grey else cv2.COLOR_BGR2RGB
        return cv2.cvtColor(frame_bgr, code)

    def detect(self, frames_bgr: Sequence[np.ndarray], near: FaceBox | None = None) -> list[list[FaceBox]]:
        """Faces per frame in source pixels; an empty list where every pass failed."""
        results: list[list[FaceBox]] = [[] for _ in frames_bgr]
        if not frames_bgr:
            return results
        height, width = frames_bgr[0].shape[:2]
        plan = plan_passes(height, width, self.detect_size, self.max_upscale)
        # A pass that has never found a face in this video after PRUNE_AFTER tries is dropped
        # (the last, reference-strength pass always stays): a video without faces then costs
        # about what dlib's upsample=1 alone costs, not the sum of every pass.
        last = plan[-1]
        plan = [p for p in plan if p == last or self._wins.get(p, 0) or self._fails.get(p, 0) < PRUNE_AFTER]
        if self._preferred in plan:
            plan.remove(self._preferred)
            plan.insert(0, self._preferred)
        todo = list(range(len(frames_bgr)))
        if near is not None and self.track_window and self.batch_size == 1:
            todo = [i for i in todo if not self._search_near(frames_bgr[i], near, results, i)]
        images = {i: self._input(frames_bgr[i]) for i in todo}  # colour-converted only when needed
        for p in plan:
            if not todo:
                break
            prepared = [_prepare(images[i], p) for i in todo]
            found = self.detector.detect_batch([img for img, _ in prepared])
            self.passes_run += len(todo)
            still = []
            for i, (_, offset), boxes in zip(todo, prepared, found):
                mapped = [b for b in (_map_back(b, p, offset, height, width) for b in boxes) if b is not None]
                if mapped:
                    results[i] += [b for b in mapped if all(b.iou(o) < 0.5 for o in results[i])]
                    self._preferred = p
                    self._wins[p] = self._wins.get(p, 0) + 1
                    if near is None or any(continues(b, near) for b in results[i]):
                        continue
                else:
                    self._fails[p] = self._fails.get(p, 0) + 1
                still.append(i)
            todo = still
        return results

    def _search_near(self, frame_bgr: np.ndarray, near: FaceBox, results: list[list[FaceBox]], i: int) -> bool:
        """Look for the tracked face in a window around its last box; True when found there."""
        import cv2

        height, width = frame_bgr.shape[:2]
        face = max(near.width, near.height, 1.0)
        scale = min(ROI_FACE_PX / face, self.max_upscale)
        half = ROI_FACTOR * face / 2.0
        cx, cy = near.center
        x1, y1 = int(max(0, cx - half)), int(max(0, cy - half))
        x2, y2 = int(min(width, cx + half)), int(min(height, cy + half))
        if x2 - x1 < 16 or y2 - y1 < 16:
            return False
        interp = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
        window = self._input(cv2.resize(frame_bgr[y1:y2, x1:x2], None, fx=scale, fy=scale, interpolation=interp))
        self.passes_run += 1
        boxes = self.detector.detect_batch([window])[0]
        mapped = [FaceBox(x1 + b.x1 / scale, y1 + b.y1 / scale, x1 + b.x2 / scale, y1 + b.y2 / scale, b.score)
                  for b in boxes]
        if any(continues(b, near) for b in mapped):
            results[i] = mapped
            self.roi_hits += 1
            return True
        return False
