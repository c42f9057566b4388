"""Per-frame face-detection time of every registered backend on 1280x720 frames.

    python benchmarks/detector_speed.py [--frames 8] [--repeats 3] [--device cpu] [--threads N]

Frames: the first frames of ../shared/fixtures/videos/fake/face_artifacts_demo.mp4 (1280x720)
when present, else grace_hopper pasted on a 1280x720 canvas. Each backend is timed on the same
frames one call per frame ("single") and, for batched backends, one call for all ("batch");
the table shows the median over the repeats of the time per frame, plus the faces found.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT.parent / "shared" / "fixtures" / "videos" / "fake" / "face_artifacts_demo.mp4"


def load_frames(count: int) -> tuple[list[np.ndarray], str]:
    import cv2

    if CLIP.is_file():
        cap = cv2.VideoCapture(str(CLIP))
        frames = []
        while len(frames) < count:
            ok, bgr = cap.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(cv2.resize(bgr, (1280, 720)), cv2.COLOR_BGR2RGB))
        if frames:
            return frames, CLIP.name
    from matplotlib import cbook

    face = cv2.cvtColor(cv2.imread(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)), cv2.COLOR_BGR2RGB)
    canvas = np.full((720, 1280, 3), 90, np.uint8)
    canvas[60:660, 400:912] = face
    return [np.roll(canvas, 7 * i, axis=1) for i in range(count)], "grace_hopper on a 1280x720 canvas"


def time_per_frame(fn, frames: list[np.ndarray], repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(frames)
        runs.append((time.perf_counter() - start) / len(frames))
    return statistics.median(runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--detectors", default="", help="comma-separated subset (default: all registered)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads (0: torch's default); 1 is far faster on an oversubscribed CPU")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    sys.path.insert(0, str(ROOT))
    from dfdetect.detectors import create_detector, list_detectors

    frames, source = load_frames(args.frames)
    names = [n for n in args.detectors.split(",") if n] or list_detectors()
    print(f"{len(frames)} frames of {source}, {frames[0].shape[1]}x{frames[0].shape[0]}; device {args.device}; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, torch threads {args.threads or 'default'}")
    print(f"{'detector':10s} {'single ms/frame':>16s} {'batch ms/frame':>15s} {'faces found':>12s}")
    for name in names:
        detector = create_detector(name, device=args.device)
        found = detector.detect_batch(frames[:1])  # warm-up: weights, first-call allocations
        single = time_per_frame(lambda fs: [detector.detect(f) for f in fs], frames, args.repeats)
        batch = time_per_frame(detector.detect_batch, frames, args.repeats) if detector.batched else float("nan")
        found = detector.detect_batch(frames)
        with_face = sum(1 for boxes in found if boxes)
        print(f"{name:10s} {single * 1000:16.1f} {batch * 1000:15.1f} {with_face:>8d}/{len(frames)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
