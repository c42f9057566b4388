"""The pictures of an HTML report, as base64 data URIs: plots, face thumbnails, heat maps,
score timelines, and the most confident mistakes they illustrate."""

from __future__ import annotations

import base64
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

if TYPE_CHECKING:
    from dfdetect.evaluation.evaluate import EvalReport, SetResult


def png_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def file_uri(path: str | Path) -> str:
    return png_uri(Path(path).read_bytes())


def array_uri(rgb: np.ndarray) -> str:
    """An RGB uint8 image as a PNG data URI."""
    import cv2

    ok, buf = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(rgb, np.uint8), cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError("could not encode an image as PNG")
    return png_uri(buf.tobytes())


def plot_uri(draw: Callable[[Path], Path]) -> str:
    """Run a plot function of dfdetect.report.plots into a temporary file and embed the result."""
    with tempfile.TemporaryDirectory(prefix="dfdetect-report-") as tmp:
        return file_uri(draw(Path(tmp) / "figure.png"))


@dataclass
class Mistake:
    """One confidently wrong video: a real called fake, or a fake that got through."""

    kind: str  # "false fake" | "missed fake"
    set_name: str
    video_id: str
    label: int
    score: float
    faces_file: Path | None
    frame_scores: np.ndarray
    images: dict[str, str] = field(default_factory=dict)  # caption -> data URI
    note: str = ""


def faces_files(csv_path: Path) -> dict[str, Path]:
    """video_id -> face stack path of a test CSV (the path rule, docs/formats.md)."""
    from dfdetect.manifest import read_manifest, resolve_faces_path

    try:
        df = read_manifest(csv_path, required=["video_id", "faces_file"])
    except Exception:  # the CSV moved since the evaluation: the report just goes without faces
        return {}
    return {str(r.video_id): resolve_faces_path(csv_path, r.faces_file) for r in df.itertuples(index=False)
            if isinstance(r.faces_file, str) and r.faces_file}


def confident_mistakes(reports: dict[str, "EvalReport"], threshold: float, per_kind: int = 4) -> list[Mistake]:
    """The `per_kind` highest-scored reals and lowest-scored fakes on the wrong side of the
    threshold, over every set (a video shared by several sets counts once)."""
    found: dict[tuple[str, str], Mistake] = {}
    for label, rep in reports.items():
        for s in rep.sets:
            paths = faces_files(s.path)
            for vid, y, score, frames in zip(s.video_ids, s.labels, s.video_scores, s.frame_scores):
                wrong = (score >= threshold) != bool(y)
                if not wrong or (label, vid) in found:
                    continue
                kind = "missed fake" if y else "false fake"
                found[(label, vid)] = Mistake(kind, f"{label} · {s.name}" if len(reports) > 1 else s.name, vid,
                                              int(y), float(score), paths.get(vid), np.asarray(frames))
    out: list[Mistake] = []
    for kind, sign in (("false fake", -1.0), ("missed fake", 1.0)):
        pool = sorted((m for m in found.values() if m.kind == kind), key=lambda m: (sign * m.score, m.video_id))
        out += pool[:per_kind]
    return out


def illustrate(mistake: Mistake, threshold: float, explainer: Callable[[np.ndarray], Any] | None = None) -> None:
    """Fill `mistake.images`: the face of its most telling frame, its heat map (when an explainer
    is given and the model has a layer to explain) and its score timeline."""
    from dfdetect.report.plots import plot_frame_timeline

    faces = None
    if mistake.faces_file is not None and mistake.faces_file.is_file():
        try:
            faces = np.load(mistake.faces_file, mmap_mode="r")
        except (OSError, ValueError):
            faces = None
    if faces is None or faces.ndim != 4 or len(faces) == 0:
        mistake.note = "face stack not found"
    else:
        scores = mistake.frame_scores
        pos = int(np.argmax(scores) if mistake.label == 0 else np.argmin(scores)) if len(scores) == len(faces) else len(faces) // 2
        mistake.images["face"] = array_uri(np.asarray(faces[pos]))
        if explainer is not None:
            try:
                exp = explainer(np.asarray(faces))
                from dfdetect.explain.render import overlay

                best = exp.chosen[0] if exp.chosen else pos
                face = np.asarray(faces[best])
                mistake.images[f"Grad-CAM, frame {best}"] = array_uri(overlay(face, exp.cams[best], float(exp.cams[best].max())))
                if not exp.cams[best].max() > 0:  # all-blue: say so rather than let it look like "nowhere"
                    mistake.note = "Grad-CAM is zero on this frame (no positive evidence at the explained layer)"
            except Exception as exc:  # a report never fails for want of a heat map
                mistake.note = f"no heat map: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
    if len(mistake.frame_scores):
        n = len(mistake.frame_scores)
        mistake.images["score timeline"] = plot_uri(lambda p: plot_frame_timeline(
            list(range(n)), mistake.frame_scores, p, threshold, mistake.score, title=mistake.video_id))


def confusion(s: "SetResult", threshold: float) -> dict[str, int]:
    """Counts at the threshold: tp (fake caught), fn (fake missed), fp (real called fake), tn."""
    pred = np.asarray(s.video_scores) >= threshold
    y = np.asarray(s.labels).astype(bool)
    return {"tp": int((pred & y).sum()), "fn": int((~pred & y).sum()),
            "fp": int((pred & ~y).sum()), "tn": int((~pred & ~y).sum())}
