"""Face extraction: videos in, square face crops out (`dfdetect extract`).

    from dfdetect.extraction import ExtractOptions, extract_faces, collect_videos, run_extraction

`extract_faces` works on one video in memory (used by `predict`); `run_extraction` is the batch
job that writes DATA/manifest.csv, DATA/faces/<video_id>.npy and per-frame sidecars.
"""

from dfdetect.extraction.faces import build_detector, extract_faces
from dfdetect.extraction.options import ExtractOptions, FaceExtraction, FrameRecord, parse_frames

__all__ = [
    "ExtractOptions",
    "FaceExtraction",
    "FrameRecord",
    "build_detector",
    "extract_faces",
    "parse_frames",
]
