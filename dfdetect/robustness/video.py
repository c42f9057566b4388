"""Whole-video perturbations: H.264 re-encodes by a real libx264 (dfdetect.robustness.ffmpeg).

- `h264`: DeeperForensics-1.0's video compression (VC), `ffmpeg -i in -crf N out` with
  N = 30, 32, 35, 38, 40 (`get_distortion_parameter` in its perturbation/add_distortion_to_video.py).
- `reencode`: one more H.264 pass at FF++'s settings, CRF 23 (its c23), 28, 32, 36 and 40 (its c40):
  what a platform's re-upload does to a clip that was already compressed once.
Both are the same operation, so a CRF they share (32, 40) is extracted once (the cache keys on the
operation and its parameter, not on the name).
"""

from __future__ import annotations

import os

from dfdetect.robustness.ffmpeg import reencode_h264
from dfdetect.robustness.registry import VIDEO, register_perturbation


def h264_crf(src: str | os.PathLike[str], dst: str | os.PathLike[str], param: int) -> None:
    """Re-encode the whole video with libx264 at CRF `param`."""
    reencode_h264(src, dst, int(param))


register_perturbation("h264", kind=VIDEO, params=(30, 32, 35, 38, 40), param_name="CRF",
                      description="H.264 video compression (DeeperForensics VC)")(h264_crf)
register_perturbation("reencode", kind=VIDEO, params=(23, 28, 32, 36, 40), param_name="CRF",
                      description="a second H.264 re-encode at FF++'s CRFs (level 1 = c23, level 5 = c40)")(h264_crf)
