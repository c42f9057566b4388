"""video_io: the streaming sampler returns exactly the frames it names."""

from __future__ import annotations

import numpy as np

from _extractdata import write_frames
from dfdetect.video_io import iter_frames, iter_sampled_frames, probe


def _numbered_clip(path, n):
    # Frame i is a flat grey of level 8*i: survives mp4v compression well enough to read back.
    return write_frames(path, [np.full((64, 64, 3), 8 * i, np.uint8) for i in range(n)])


def test_sampled_frames_are_the_named_ones(tmp_path):
    clip = _numbered_clip(tmp_path / "numbered.mp4", 30)
    got = list(iter_frames(clip, [0, 7, 8, 29]))
    assert [i for i, _ in got] == [0, 7, 8, 29]
    for index, frame in got:
        assert round(float(frame.mean()) / 8) == index, (index, frame.mean())  # not a neighbour


def test_even_sampling_over_the_whole_video(tmp_path):
    clip = _numbered_clip(tmp_path / "numbered.mp4", 30)
    info = probe(clip)
    got = list(iter_sampled_frames(info, 4))
    assert [i for i, _ in got] == [0, 10, 19, 29]
    assert [round(float(f.mean()) / 8) for _, f in got] == [0, 10, 19, 29]
    assert len(list(iter_sampled_frames(info, None))) == 30


def test_ffmpeg_says_nothing_about_a_truncated_mp4_only_our_one_line_does(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from _extractdata import synth_clip

    clip = synth_clip(tmp_path / "whole.mp4", n_frames=6)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])  # the moov atom sits at the end: cut off
    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_FFMPEG_LOGLEVEL"}
    env.update(PYTHONPATH=str(root), COLUMNS="250")
    r = subprocess.run([sys.executable, "-m", "dfdetect", "extract", str(broken), "--out", str(tmp_path / "data"),
                        "--frames", "2", "--size", "32"], env=env, capture_output=True, text=True)
    assert r.returncode == 1, r.stderr  # an error row, reported
    assert "moov atom" not in r.stderr and "@ 0x" not in r.stderr, r.stderr
    assert "broken: cannot open as a video" in r.stderr
    # a level the user sets still wins: FFmpeg's own words come back
    r = subprocess.run([sys.executable, "-c", "from dfdetect.video_io import probe, VideoError\n"
                        f"try: probe({str(broken)!r})\nexcept VideoError: pass"],
                       env={**env, "OPENCV_FFMPEG_LOGLEVEL": "32"}, capture_output=True, text=True)
    assert "moov atom not found" in r.stdout + r.stderr  # (OpenCV's log callback prints to stdout)
