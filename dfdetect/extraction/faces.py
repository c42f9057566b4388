"""Per-video face extraction, in memory: sample, detect, track, carry, crop."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np

from dfdetect.detectors.base import FaceBox, FaceDetector
from dfdetect.extraction.detect import CoarseToFineDetector
from dfdetect.extraction.options import CARRIED, DETECTED, ExtractOptions, FaceExtraction, FrameRecord
from dfdetect.extraction.tracking import choose_face, crop_face, square_window
from dfdetect.manifest import STATUS_ERROR, STATUS_NO_FACE, STATUS_OK
from dfdetect.video_io import VideoError, count_frames, iter_frames, probe, sample_indices

# Frames without a detection wait for the next detected frame (their box is carried from the
# nearest one). Beyond this many bytes of waiting raw frames, they are kept PNG-compressed.
PENDING_RAW_BUDGET = 64 * 1024 * 1024


def build_detector(options: ExtractOptions) -> FaceDetector:
    """The detector named in the options (`--detector`, `--detector-model`, `--device`)."""
    from dfdetect.detectors import create_detector

    return create_detector(options.detector, model_path=options.detector_model, device=options.device)


class _PendingFrames:
    """Sampled frames that had no detection yet, bounded in memory."""

    def __init__(self) -> None:
        self.items: list[tuple[int, object]] = []  # (record position, frame or PNG bytes)
        self.raw_bytes = 0

    def add(self, position: int, frame: np.ndarray) -> None:
        if self.raw_bytes + frame.nbytes <= PENDING_RAW_BUDGET:
            self.items.append((position, frame))
            self.raw_bytes += frame.nbytes
        else:
            import cv2

            ok, png = cv2.imencode(".png", frame, [cv2.IMWRITE_PNG_COMPRESSION, 1])
            self.items.append((position, png if ok else frame))

    def drain(self) -> list[tuple[int, np.ndarray]]:
        import cv2

        out = []
        for position, item in self.items:
            frame = item if isinstance(item, np.ndarray) and item.ndim == 3 else cv2.imdecode(item, cv2.IMREAD_COLOR)
            out.append((position, frame))
        self.items, self.raw_bytes = [], 0
        return out


def extract_faces(
    path: str | os.PathLike[str],
    options: ExtractOptions | None = None,
    detector: FaceDetector | None = None,
    progress: Callable[[float], None] | None = None,
) -> FaceExtraction:
    """Sample frames of one video, detect and track the main face, and return the crops.

    `progress`, when given, is called with the fraction of sampled frames done (0-1] as they are
    (`serve` shows it).

    Nothing is written. A video that cannot be read comes back with status 'error' and a one-line
    reason; one without any face with status 'no_face' and `faces=None`. Frames without a
    detection take the box of the nearest detected frame (`source='carried'`).
    """
    options = (options or ExtractOptions()).validate()
    started = time.perf_counter()
    path = Path(path)
    try:
        info = probe(path)
    except VideoError as exc:
        return FaceExtraction(str(path), STATUS_ERROR, error=str(exc), seconds=time.perf_counter() - started)
    result = FaceExtraction(
        str(path), STATUS_OK, width=info.width, height=info.height, fps=info.fps, frame_count=info.frame_count
    )
    finder = CoarseToFineDetector(detector or build_detector(options), options.detect_size, options.max_upscale)
    try:
        crops = _extract(info, options, finder, result.frames, progress)
        wanted = len(sample_indices(info.frame_count, options.frames))
        if len(result.frames) < wanted and not info.count_exact:
            # The container promised more frames than decode gives (a truncated or badly muxed
            # file): sample again, evenly, within the decodable length, and say so.
            decodable = len(result.frames) if options.frames is None else count_frames(path)
            if 0 < decodable < info.frame_count:
                result.decoded_frames = decodable
                result.note = f"the container reports {result.frame_count} frames but only {decodable} decode"
                if options.frames is not None:
                    result.note += f"; sampled within those {decodable}"
                    info = dataclasses.replace(info, frame_count=decodable, count_exact=True)
                    result.frames.clear()
                    crops = _extract(info, options, finder, result.frames, progress)
    except VideoError as exc:
        result.status, result.error = STATUS_ERROR, str(exc)
        crops = []
    except Exception as exc:  # cv2.error and friends from a corrupt stream
        if type(exc).__module__.split(".")[0] not in ("cv2",):
            raise
        result.status, result.error = STATUS_ERROR, f"decoding failed: {str(exc).strip().splitlines()[-1]}"
        crops = []
    result.seconds = time.perf_counter() - started
    if result.status == STATUS_ERROR:
        return result
    if not result.frames:
        result.status, result.error = STATUS_ERROR, "no decodable frame"
    elif result.n_faces == 0:
        result.status = STATUS_NO_FACE
    else:
        result.faces = np.stack(crops)
    return result


def _extract(info, options: ExtractOptions, finder: CoarseToFineDetector, records: list[FrameRecord],
             progress: Callable[[float], None] | None = None) -> list:
    size, scale = options.size, options.scale
    crops: list[np.ndarray | None] = []
    pending = _PendingFrames()
    last: tuple[int, FaceBox] | None = None  # (frame index, box) of the last detection

    def cut(frame: np.ndarray, position: int, box: FaceBox) -> None:
        h, w = frame.shape[:2]
        window = square_window(box, w, h, scale)
        records[position].crop = window
        crops[position] = crop_face(frame, window, size)

    def resolve_pending(next_detection: tuple[int, FaceBox] | None) -> None:
        for position, frame in pending.drain():
            rec = records[position]
            sources = [d for d in (last, next_detection) if d is not None]
            # nearest detected frame by source index; ties go to the earlier one
            src_index, box = min(sources, key=lambda d: (abs(d[0] - rec.index), d[0]))
            rec.box, rec.score, rec.source, rec.box_from = (box.x1, box.y1, box.x2, box.y2), box.score, CARRIED, src_index
            cut(frame, position, box)

    batch: list[tuple[int, np.ndarray]] = []

    def flush() -> None:
        nonlocal last
        found = finder.detect([f for _, f in batch], near=last[1] if last else None)
        for (index, frame), candidates in zip(batch, found):
            position = len(records)
            records.append(FrameRecord(index=index, n_candidates=len(candidates)))
            crops.append(None)
            if not candidates:
                pending.add(position, frame)
                continue
            box = choose_face(candidates, last[1] if last else None)
            resolve_pending((index, box))
            rec = records[position]
            rec.box, rec.score, rec.source, rec.box_from = (box.x1, box.y1, box.x2, box.y2), box.score, DETECTED, index
            cut(frame, position, box)
            last = (index, box)
        batch.clear()

    indices = None if options.frames is None else sample_indices(info.frame_count, options.frames)
    wanted = max(1, len(indices) if indices is not None else info.frame_count)
    for index, frame in iter_frames(info.path, indices):
        batch.append((index, frame))
        if len(batch) >= finder.batch_size:
            flush()
            if progress is not None:
                progress(min(1.0, len(records) / wanted))
    if batch:
        flush()
    if last is not None:
        resolve_pending(None)
    else:
        pending.drain()
    return [c for c in crops if c is not None]
