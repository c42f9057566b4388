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
