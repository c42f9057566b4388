"""Generation speed of the synthetic video generator (dfdetect.synth).

    python benchmarks/synth_speed.py [--repeats 3] [--hd]

Cases: the test/demo-sized dataset (24 clips x 48 frames at 256x256), the `dfdetect benchmark`
sized dataset (75 clips x 8 frames at 128x128), and with --hd one 300-frame clip at 1280x720
and at 1920x1080 (the extraction benchmark's inputs). Prints, per case, the median wall time
and process CPU time over the repeats, and frames/s (wall). CPU time is the fairer figure on a
shared machine: wall time grows with other load.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dfdetect.synth import load_portrait, make_clip, make_dataset  # noqa: E402


def _dataset(out: Path, n_real: int, n_fake: int, size: int, frames: int) -> None:
    make_dataset(out, n_real=n_real, n_fake=n_fake, width=size, height=size, n_frames=frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--hd", action="store_true", help="also time 300-frame 720p and 1080p clips")
    args = parser.parse_args()

    load_portrait()  # decoded once per process; not part of any case
    cases = [
        ("24 clips x 48 fr @ 256x256", 24 * 48, lambda out: _dataset(out, 12, 12, 256, 48)),
        ("75 clips x 8 fr @ 128x128", 75 * 8, lambda out: _dataset(out, 60, 15, 128, 8)),
    ]
    if args.hd:
        cases += [
            ("1 fake clip x 300 fr @ 1280x720", 300,
             lambda out: make_clip(out / "hd.mp4", fake=True, seed=0, width=1280, height=720, n_frames=300)),
            ("1 fake clip x 300 fr @ 1920x1080", 300,
             lambda out: make_clip(out / "hd.mp4", fake=True, seed=0, width=1920, height=1080, n_frames=300)),
        ]
    print(f"{'case':36} {'wall s':>8} {'cpu s':>8} {'frames/s':>9}")
    for name, n_frames, run in cases:
        walls, cpus = [], []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as tmp:
                wall, cpu = time.perf_counter(), time.process_time()
                run(Path(tmp))
                walls.append(time.perf_counter() - wall)
                cpus.append(time.process_time() - cpu)
        wall_med, cpu_med = statistics.median(walls), statistics.median(cpus)
        print(f"{name:36} {wall_med:8.2f} {cpu_med:8.2f} {n_frames / wall_med:9.0f}", flush=True)


if __name__ == "__main__":
    main()
