"""Draw a clip's explanation: one PNG, a row per chosen frame (face | heat map over the face),
labelled with the source frame index, the time in the clip and P(fake)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:
    from dfdetect.explain.gradcam import StackExplanation

DISPLAY_SIDE = 160  # pixels per face in the PNG


def overlay(face: np.ndarray, cam: np.ndarray, scale: float, alpha: float = 0.45) -> np.ndarray:
    """RGB uint8 face with the heat map (divided by `scale`, the clip's largest value, so rows of
    one clip compare) in the JET colour map blended over it."""
    import cv2

    side = face.shape[0]
    heat = cv2.resize(np.asarray(cam, np.float32), (side, side), interpolation=cv2.INTER_LINEAR)
    heat = np.clip(heat / scale if scale > 0 else heat * 0, 0, 1)
    colour = cv2.cvtColor(cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    return cv2.addWeighted(np.ascontiguousarray(face, np.uint8), 1 - alpha, colour, alpha, 0)


def _row_label(frame_index: int, fps: float, prob: float | None) -> str:
    time = f"{frame_index / fps:.2f} s" if fps and fps > 0 else "time n/a"
    p = f"P(fake) {prob:.2f}" if prob is not None and np.isfinite(prob) else "P(fake) n/a (video-level model)"
    return f"frame {frame_index} · {time}\n{p}"


def render_explanation(
    faces: np.ndarray,
    exp: "StackExplanation",
    path: str | Path,
    frame_indices: Sequence[int] | None = None,
    fps: float = 0.0,
    title: str = "",
) -> Path:
    """Write the explanation PNG of one clip; returns its path."""
    import cv2

    from dfdetect.plots import _figure, _save

    rows = exp.chosen or [0]
    indices = list(frame_indices) if frame_indices is not None and len(frame_indices) == len(faces) else list(range(len(faces)))
    scale = float(max(exp.cams[i].max() for i in rows))
    fig = _figure(6.2, 0.35 + 1.9 * len(rows))
    for r, pos in enumerate(rows):
        face = cv2.resize(np.ascontiguousarray(faces[pos]), (DISPLAY_SIDE, DISPLAY_SIDE), interpolation=cv2.INTER_AREA)
        prob = float(exp.frame_probs[pos]) if exp.frame_probs.size else None
        for c, image in enumerate((face, overlay(face, exp.cams[pos], scale))):
            ax = fig.add_subplot(len(rows), 3, 3 * r + c + 1)
            ax.imshow(image)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title("face" if c == 0 else "Grad-CAM", fontsize=9)
        ax = fig.add_subplot(len(rows), 3, 3 * r + 3)
        ax.axis("off")
        ax.text(0.0, 0.5, _row_label(int(indices[pos]), fps, prob), fontsize=9, va="center")
    head = title + (" · " if title else "") + f"P(fake) {exp.video_prob:.2f} · explains the {exp.target} logit at {exp.layer}"
    fig.suptitle(head, fontsize=8)
    return _save(fig, path)


def unique_stem(path: str, taken: set[str]) -> str:
    """A file-safe name for a video, made unique within one batch (clip.mp4 in two folders)."""
    from dfdetect.manifest import safe_video_id

    stem = base = safe_video_id(path)
    n = 2
    while stem in taken:
        stem, n = f"{base}-{n}", n + 1
    taken.add(stem)
    return stem
