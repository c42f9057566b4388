"""Face extraction: videos in, square face crops out (`dfdetect extract`).

    from dfdetect.extraction import ExtractOptions, extract_faces, collect_videos, run_extraction

`extract_faces` works on one video in memory (used by `predict`); `run_extraction` is the batch
job that writes DATA/manifest.csv, DATA/faces/<video_id>.npy and per-frame sidecars.
"""

from dfdetect.extraction.batch import ExtractSummary, parse_shard, process_video, run_extraction, shard_of
from dfdetect.extraction.faces import build_detector, extract_faces
from dfdetect.extraction.gather import gather_inputs
from dfdetect.extraction.inputs import VideoInput, collect_videos, inputs_from_csv, inputs_from_paths
from dfdetect.extraction.options import ExtractOptions, FaceExtraction, FrameRecord, parse_frames
from dfdetect.extraction.store import merge_parts

__all__ = [
    "ExtractOptions",
    "ExtractSummary",
    "VideoInput",
    "collect_videos",
    "gather_inputs",
    "inputs_from_csv",
    "inputs_from_paths",
    "merge_parts",
    "parse_shard",
    "process_video",
    "run_extraction",
    "shard_of",
    "FaceExtraction",
    "FrameRecord",
    "build_detector",
    "extract_faces",
    "parse_frames",
]
