"""Why a clip was judged fake: Grad-CAM heat maps over its face crops (`predict --explain`).

    from dfdetect.explain import explain_stack, render_explanation

No torch at import: the CLI imports this lazily, only when --explain is given.
"""

from dfdetect.explain.gradcam import (
    StackExplanation,
    choose_frames,
    explain_stack,
    heat_in_out_ratio,
    pointing_hit,
    resolve_cam_layer,
)
from dfdetect.explain.render import render_explanation

__all__ = [
    "StackExplanation",
    "choose_frames",
    "explain_stack",
    "heat_in_out_ratio",
    "pointing_hit",
    "render_explanation",
    "resolve_cam_layer",
]
