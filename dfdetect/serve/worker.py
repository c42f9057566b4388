"""The scoring worker: a process that loads the model and detector once and scores videos on request.

A separate process, not a thread, so that the server stays up whatever a video does: a decoder
that crashes or hangs on a crafted file takes down (or stalls) only its worker, which the server
kills when the time limit passes and starts again. Messages on the pipe:
  parent -> worker: (path, display_name, explain) or None to stop;
  worker -> parent: ("ready", model_info) | ("failed", reason) once at start, then per video
                    ("progress", fraction)* and ("done", result) | ("refused", reason) (the
                    request cannot be served, 400) | ("error", reason) (the model failed, 500).
"""

from __future__ import annotations

import base64
import signal
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from dfdetect.errors import UsageError

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from dfdetect.prediction.predictor import Predictor

EXPLAIN_FRAMES = 6


def worker_main(conn: "Connection", checkpoints: list[str], device: str, threads: int | None,
                quiet: bool = False) -> None:
    """Entry point of a worker process (multiprocessing, spawn). QUIET: no notes on stderr (all
    but the first worker, whose notes about the model, e.g. its calibration, are said once)."""
    # Ctrl-C and SIGTERM go to the whole process group; the server decides when workers stop
    # (after the running video), so they ignore both and exit when told or when the pipe closes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    import os

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from dfdetect import console

    console.configure(quiet=quiet)
    try:
        predictor = load_predictor(checkpoints, device, threads)
        info = model_info(predictor)
    except Exception as exc:  # a bad checkpoint: the server reports it and exits
        conn.send(("failed", _one_line(exc)))
        return
    conn.send(("ready", info))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the server is gone
            return
        if message is None:
            return
        path, name, explain = message
        try:
            result = score_video(predictor, path, name, explain, lambda f: conn.send(("progress", f)))
            conn.send(("done", result))
        except UsageError as exc:  # e.g. ?explain=1 on an ensemble: the request's fault
            conn.send(("refused", _one_line(exc)))
        except Exception as exc:  # one bad video: an error answer, the worker carries on
            conn.send(("error", _one_line(exc)))


def load_predictor(checkpoints: list[str], device: str, threads: int | None) -> "Predictor":
    import torch

    from dfdetect.prediction.predictor import PredictOptions, Predictor, resolve_checkpoint

    if threads:
        torch.set_num_threads(threads)
    names = [resolve_checkpoint(c) for c in checkpoints] or [resolve_checkpoint(None)]
    predictor = Predictor(names, PredictOptions(device=device))
    predictor.detector  # noqa: B018 -- build it now, not on the first request
    return predictor


def score_video(predictor: "Predictor", path: str, name: str, explain: bool,
                progress: Callable[[float], None] = lambda f: None) -> dict[str, Any]:
    """The fields of `predict --format json` for one video, the per-frame timeline, and with
    `explain` the Grad-CAM strip as a PNG data URL. `path` in the answer is NAME, never the
    server's own file name."""
    progress(0.05)
    predictor.keep_faces = explain
    # extraction is most of the work: its frames move the bar from 5 % to 75 % (then the model)
    predictor.progress = lambda fraction: progress(0.05 + 0.7 * fraction)
    try:
        pred = predictor.predict_one(path)
    finally:
        predictor.keep_faces, predictor.progress = False, None
    progress(0.8 if explain else 1.0)
    pred.path = name  # what the answer and the Grad-CAM title show: never the server's file name
    result = pred.record()
    result["path"] = name
    result.setdefault("threshold", predictor.options.threshold)
    result["fps"] = pred.fps
    # frame probabilities stay on the model's raw scale (scoring/inference.py): the timeline's
    # threshold line is the verdict's threshold taken to that scale
    raw = getattr(predictor.scorer, "raw_threshold", None)
    result["frame_threshold"] = float(raw(result["threshold"])) if raw and result["threshold"] is not None else result["threshold"]
    # ... and, for a calibrated checkpoint, each frame's probability on the verdict's scale too, which
    # the page plots against `threshold` so that the chart and the numbers above it agree
    calibration = getattr(predictor.scorer, "calibration", None)
    detected = pred.detected if len(pred.detected) == len(pred.frame_probs) else [True] * len(pred.frame_probs)
    result["timeline"] = [
        {"frame": int(i), "prob": round(float(p), 6), "detected": bool(d),
         **({"calibrated": round(float(calibration.apply(p)), 6)} if calibration is not None else {})}
        for i, p, d in zip(pred.frame_indices, pred.frame_probs, detected)
    ]
    result["seconds"] = {"extract": round(pred.extract_seconds, 3), "model": round(pred.model_seconds, 3)}
    if explain:
        result["explain_png"] = explain_png(predictor, pred)
        progress(1.0)
    return result


def explain_png(predictor: "Predictor", pred) -> str | None:
    """The Grad-CAM strip of `predict --explain`, rendered the same way, as a data URL."""
    from dfdetect.explain.video import check_explainable, explain_prediction

    if pred.failed:
        return None
    check_explainable(predictor)
    with tempfile.TemporaryDirectory(prefix="dfdetect-explain-") as folder:
        png = explain_prediction(predictor, pred, folder, EXPLAIN_FRAMES)
        if png is None:
            return None
        data = Path(png).read_bytes()
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def model_info(predictor: "Predictor") -> dict[str, Any]:
    """What `dfdetect models` and the checkpoint say about the loaded model (GET /v1/model)."""
    from dfdetect.default_model import is_default, metadata

    config = predictor.config
    name = str(config.get("model", "?"))
    info: dict[str, Any] = {
        "checkpoint": predictor.checkpoint,
        "model": name,
        "backbone": (config.get("model_options") or {}).get("backbone"),
        "level": config.get("level"),
        "recipe": (config.get("bundled") or {}).get("recipe") or (config.get("train") or {}).get("recipe"),
        "input": {"frames": config.get("frames"), "img_size": config.get("img_size"),
                  "mean": config.get("mean"), "std": config.get("std")},
        "extraction": {k: getattr(predictor.extract_options, k) for k in ("detector", "frames", "scale", "size")},
        "threshold": predictor.options.threshold,  # resolved by the Predictor: the calibrated one, else 0.5
        "calibration": config.get("calibration"),  # None for a checkpoint trained without it
        "ensemble": config.get("ensemble"),
        "quality": {"val_video_auc": config.get("val_video_auc")},
        "description": None,
        "params": None,
        "trust": "",
    }
    try:
        from dfdetect.models.summary import model_rows

        rows = model_rows(name, params=False)
        if rows:
            info["description"] = rows[0]["description"]
        info["params"] = int(sum(p.numel() for p in predictor.model.parameters()))  # as loaded
    except Exception:  # an unregistered name in an old checkpoint: the rest still answers
        pass
    if is_default(predictor.checkpoint):
        meta = metadata()
        info["quality"]["oof_auc"] = meta.get("oof_auc")
        info["trained_on"] = meta.get("trained_on")
        info["data_licence"] = meta.get("data_licence")
    info["trust"] = trust_line(info)
    return info


def trust_line(info: dict[str, Any]) -> str:
    """The page's "how much to trust this": the measured quality in one sentence."""
    oof = (info.get("quality") or {}).get("oof_auc")
    if oof:
        return (f"This model ranks a fake above a real video {oof['auc']:.0%} of the time on held-out clips "
                f"of its training sample (AUC {oof['auc']:.2f}, 95 % interval {oof['lo']:.2f}-{oof['hi']:.2f}); "
                "on other sources it can be much worse. Treat the verdict as a hint for a closer look, "
                "not as proof.")
    auc = (info.get("quality") or {}).get("val_video_auc")
    if auc:
        return (f"Validation AUC {auc:.2f} on the data it was trained for; quality on other sources is unknown. "
                "Treat the verdict as a hint, not as proof.")
    return "No measured quality is recorded in this checkpoint: treat the verdict as a hint, not as proof."


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
