"""Built-in synthetic face videos: real clips of a moving portrait and self-blended fakes.

    from dfdetect.synth import make_clip, make_dataset, self_blend

Used by the tests, by `dfdetect benchmark` (no download needed) and by train's `--augment xray`.
No torch here: generating data must stay cheap to import.
"""

from dfdetect.synth.blend import self_blend, strength_for
from dfdetect.synth.clips import default_face_scale, make_clip, make_dataset, render_frames
from dfdetect.synth.portrait import load_portrait

__all__ = [
    "make_clip",
    "make_dataset",
    "self_blend",
    "render_frames",
    "load_portrait",
    "strength_for",
    "default_face_scale",
]
