"""Keeping the main subject across frames, and cutting square face crops."""

from __future__ import annotations

import numpy as np

from dfdetect.detectors.base import FaceBox

# Below this overlap with the previous box, a candidate is matched by centre distance instead.
MIN_TRACK_IOU = 0.1
# A candidate whose centre is further than this many previous-box sides away starts a new track
# (a scene cut or the subject left): then the largest face is taken, as on the first frame.
MAX_TRACK_JUMP = 1.5


def continues(box: FaceBox, previous: FaceBox) -> bool:
    """Whether `box` plausibly is the same face as `previous` (overlap or a short jump)."""
    if box.iou(previous) >= MIN_TRACK_IOU:
        return True
    (cx, cy), (px, py) = box.center, previous.center
    return float(np.hypot(cx - px, cy - py)) / max(previous.width, previous.height, 1.0) <= MAX_TRACK_JUMP


def choose_face(candidates: list[FaceBox], previous: FaceBox | None) -> FaceBox:
    """The main subject: the largest face on the first detection, then the face that best
    continues the previous box (highest IoU, else nearest centre), so that a second person in
    the frame does not take over the crop."""
    if len(candidates) == 1 or previous is None:
        return max(candidates, key=lambda b: (b.area, b.score))
    best = max(candidates, key=lambda b: b.iou(previous))
    if best.iou(previous) >= MIN_TRACK_IOU:
        return best
    px, py = previous.center
    side = max(previous.width, previous.height, 1.0)

    def jump(b: FaceBox) -> float:
        cx, cy = b.center
        return float(np.hypot(cx - px, cy - py)) / side

    nearest = min(candidates, key=jump)
    if jump(nearest) <= MAX_TRACK_JUMP:
        return nearest
    return max(candidates, key=lambda b: (b.area, b.score))


def square_window(box: FaceBox | tuple[float, float, float, float], width: int, height: int,
                  scale: float) -> tuple[int, int, int, int]:
    """A square of `scale` x the box's larger side around its centre, kept inside the frame.

    The square is shifted (not squashed) to stay inside the frame, and shrinks to the frame's
    shorter side when it is larger, so crops are always square and never stretched.
    """
    x1, y1, x2, y2 = (box.x1, box.y1, box.x2, box.y2) if isinstance(box, FaceBox) else box
    side = max(x2 - x1, y2 - y1) * scale
    side = int(round(min(max(side, 2.0), width, height)))
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    left = int(round(cx - side / 2.0))
    top = int(round(cy - side / 2.0))
    left = min(max(left, 0), width - side)
    top = min(max(top, 0), height - side)
    return left, top, left + side, top + side


def crop_face(frame_bgr: np.ndarray, window: tuple[int, int, int, int], size: int) -> np.ndarray:
    """Cut the window and resize it to size x size, as RGB uint8."""
    import cv2

    x1, y1, x2, y2 = window
    patch = frame_bgr[y1:y2, x1:x2]
    interp = cv2.INTER_AREA if patch.shape[0] > size else cv2.INTER_LINEAR
    patch = cv2.resize(patch, (size, size), interpolation=interp)
    return cv2.cvtColor(patch, cv2.COLOR_BGR2RGB)
