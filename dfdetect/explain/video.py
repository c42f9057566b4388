"""`predict --explain DIR`: the explanation PNG of each scored video, next to the verdicts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dfdetect.prediction.predictor import Predictor, VideoPrediction


def check_explainable(predictor: "Predictor") -> None:
    """Fail before any video is read when the model has no layer to explain."""
    from dfdetect.errors import UsageError
    from dfdetect.explain.gradcam import resolve_cam_layer

    if predictor.config.get("ensemble"):  # a heat map of one member would not explain the averaged verdict
        raise UsageError("--explain explains one model; pass a single --checkpoint")
    resolve_cam_layer(predictor.model)


def explain_prediction(predictor: "Predictor", pred: "VideoPrediction", out_dir: str | Path,
                       n_frames: int = 6, taken: set[str] | None = None) -> Path | None:
    """Grad-CAM of one scored video into OUT_DIR/<video>.png; None for a video without a verdict.

    Needs the face stack on the prediction (Predictor.keep_faces); it is dropped afterwards so a
    long batch does not hold every stack in memory."""
    from dfdetect.explain.gradcam import explain_stack
    from dfdetect.explain.render import render_explanation, unique_stem

    faces, pred.face_stack = pred.face_stack, None
    if pred.failed or faces is None or len(faces) == 0:
        return None
    opts = predictor.options
    exp = explain_stack(predictor.model, predictor.config, faces, n_frames, predictor.device,
                        opts.aggregate, opts.batch_size)
    calibration = getattr(getattr(predictor, "scorer", None), "calibration", None)
    if calibration is not None:  # print the probabilities the verdict used, not the raw ones next to them
        exp.video_prob = float(calibration.apply(exp.video_prob))
        if exp.frame_probs.size:
            exp.frame_probs = calibration.apply(exp.frame_probs)
    stem = unique_stem(pred.path, taken if taken is not None else set())
    title = f"{Path(pred.path).name}: {pred.verdict}"
    return render_explanation(faces, exp, Path(out_dir) / f"{stem}.png", pred.frame_indices, pred.fps, title)
