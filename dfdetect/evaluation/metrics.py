"""Detection metrics at video and frame level (label 1 = fake, the positive class).

Scores are fake probabilities. Threshold metrics call a score >= threshold "fake". Ranking
metrics (AUC, AP, EER) need both classes: on a one-class set they are None and `note` says why,
instead of sklearn's warnings or a crash. sklearn is imported lazily.
"""

from __future__ import annotations

import math
import re
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

#: Video-level metrics, in table order.
VIDEO_METRICS = ["auc", "ap", "eer", "acc", "balanced_acc", "precision", "recall", "f1"]
#: Frame-level metrics (frames take their video's label).
FRAME_METRICS = ["frame_auc", "frame_ap"]
#: Are the probabilities and the threshold worth acting on (evaluation/calibration.py)?
CALIBRATION_METRICS = ["brier", "ece", "tpr_at_fpr_1pct", "tpr_at_fpr_5pct", "precision_at_prior"]
ALL_METRICS = VIDEO_METRICS + FRAME_METRICS + CALIBRATION_METRICS
#: 95 % confidence bounds: video AUC by DeLong, frame AUC by a bootstrap over videos, each by
#: Hanley–McNeil when a class has fewer than 30 videos (intervals.py). None (an empty CSV cell,
#: `n/a` in tables, no error bar) when a class has fewer than two videos; the row's note says so.
CI_COLUMNS = ["auc_lo", "auc_hi", "frame_auc_lo", "frame_auc_hi"]
CI_LEVEL = 0.95

METRIC_TITLES = {
    "auc": "AUC", "ap": "AP", "eer": "EER", "acc": "Acc", "balanced_acc": "BalAcc",
    "precision": "Prec", "recall": "Rec", "f1": "F1", "frame_auc": "fAUC", "frame_ap": "fAP",
    "brier": "Brier", "ece": "ECE", "tpr_at_fpr_1pct": "TPR@1%", "tpr_at_fpr_5pct": "TPR@5%",
    "precision_at_prior": "Prec@prior",
}

ONE_CLASS_NOTE = "one class only: AUC/AP/EER undefined"


def _as_arrays(labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels, dtype=np.int64).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"labels ({y.size}) and scores ({s.size}) differ in length")
    if y.size and not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 (real) or 1 (fake)")
    if not np.isfinite(s).all():
        raise ValueError("scores hold NaN or infinite values")
    return y, s


def has_both_classes(labels: Sequence[int] | np.ndarray) -> bool:
    y = np.asarray(labels).ravel()
    return bool((y == 0).any() and (y == 1).any())


def equal_error_rate(labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray) -> float | None:
    """The rate where false-positive and false-negative rates meet on the ROC curve.

    Interpolated linearly between the two ROC points that bracket the crossing, so a perfect
    ranking gives 0.0 and a reversed one 1.0. None for a one-class set.
    """
    from sklearn.metrics import roc_curve

    y, s = _as_arrays(labels, scores)
    if not has_both_classes(y):
        return None
    fpr, tpr, _ = roc_curve(y, s)
    fnr = 1.0 - tpr
    diff = fnr - fpr  # starts at 1 (fpr 0, fnr 1), ends at -1; non-increasing
    i = int(np.nonzero(diff <= 0)[0][0])
    if i == 0 or diff[i] == 0:
        return float(fpr[i])
    t = diff[i - 1] / (diff[i - 1] - diff[i])
    return float(fpr[i - 1] + t * (fpr[i] - fpr[i - 1]))


def ranking_metrics(labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray) -> dict[str, float | None]:
    """AUC, AP and EER from probabilities; all None when the set holds one class."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    y, s = _as_arrays(labels, scores)
    if not has_both_classes(y):
        return {"auc": None, "ap": None, "eer": None}
    return {
        "auc": float(roc_auc_score(y, s)),
        "ap": float(average_precision_score(y, s)),
        "eer": equal_error_rate(y, s),
    }


def threshold_metrics(
    labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray, threshold: float = 0.5
) -> dict[str, float | None]:
    """Accuracy, balanced accuracy, precision, recall and F1 with `score >= threshold` = fake.

    Precision with no predicted fake, and recall with no true fake, are 0 (sklearn's
    zero_division=0). Balanced accuracy averages the recall of the classes present.
    """
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

    y, s = _as_arrays(labels, scores)
    if y.size == 0:
        return {k: None for k in ("acc", "balanced_acc", "precision", "recall", "f1")}
    pred = (s >= threshold).astype(np.int64)
    per_class = [float((pred[y == c] == c).mean()) for c in (0, 1) if (y == c).any()]
    opts: dict[str, Any] = {"zero_division": 0, "labels": [0, 1], "pos_label": 1}
    return {
        "acc": float(accuracy_score(y, pred)),
        "balanced_acc": float(np.mean(per_class)),
        "precision": float(precision_score(y, pred, **opts)),
        "recall": float(recall_score(y, pred, **opts)),
        "f1": float(f1_score(y, pred, **opts)),
    }


def compute_metrics(
    video_labels: Sequence[int] | np.ndarray,
    video_scores: Sequence[float] | np.ndarray,
    frame_labels: Sequence[int] | np.ndarray | None = None,
    frame_scores: Sequence[float] | np.ndarray | None = None,
    threshold: float = 0.5,
    frame_videos: Sequence[int] | np.ndarray | None = None,
    seed: int = 0,
    prior: float = 1 / 101,
) -> dict[str, Any]:
    """Every metric for one test set: VIDEO_METRICS, FRAME_METRICS, CI_COLUMNS, n_real, n_fake, note.

    Frame metrics are None when no frame scores are given (a video-only model). The frame AUC
    interval needs `frame_videos` (the video index of each frame, see `frame_video_index`): it
    resamples videos, seeded by `seed` (intervals.frame_auc_ci); without it the bounds are None.
    """
    from dfdetect.evaluation.intervals import auc_with_ci, frame_auc_ci

    y, s = _as_arrays(video_labels, video_scores)
    out: dict[str, Any] = {"n_real": int((y == 0).sum()), "n_fake": int((y == 1).sum())}
    out.update(ranking_metrics(y, s))
    out.update(threshold_metrics(y, s, threshold))
    from dfdetect.evaluation.calibration import calibration_metrics

    out.update(calibration_metrics(y, s, threshold, prior))  # prior: the fake fraction (--prior 1:100)
    out.update(dict.fromkeys(CI_COLUMNS))
    interval_notes = []
    video_ci = auc_with_ci(y, s, CI_LEVEL, method="auto")
    if video_ci is not None:
        out["auc_lo"], out["auc_hi"] = video_ci.lo, video_ci.hi
        interval_notes.append(video_ci.note)
    out["frame_auc"] = out["frame_ap"] = None
    if frame_labels is not None and frame_scores is not None and len(frame_scores):
        frame = ranking_metrics(frame_labels, frame_scores)
        out["frame_auc"], out["frame_ap"] = frame["auc"], frame["ap"]
        if frame_videos is not None:
            frame_ci = frame_auc_ci(frame_labels, frame_scores, frame_videos, CI_LEVEL, seed=seed)
            if frame_ci is not None:
                out["frame_auc_lo"], out["frame_auc_hi"] = frame_ci.lo, frame_ci.hi
                interval_notes.append(frame_ci.note)
    notes = []
    if y.size == 0:
        notes.append("no scored videos")
    elif not has_both_classes(y):
        notes.append(ONE_CLASS_NOTE)
    notes += list(dict.fromkeys(n for n in interval_notes if n))  # video and frame say the same once
    out["note"] = "; ".join(notes)
    return out


def frames_with_video_labels(video_labels: Sequence[int], frame_scores: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Flatten per-video frame probabilities; each frame takes its video's label."""
    labels = [np.full(len(f), int(lab), dtype=np.int64) for lab, f in zip(video_labels, frame_scores)]
    if not labels:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    return np.concatenate(labels), np.concatenate([np.asarray(f, dtype=np.float64) for f in frame_scores])


def frame_video_index(frame_scores: Sequence[np.ndarray]) -> np.ndarray:
    """The video number of every frame, in the order of `frames_with_video_labels`."""
    return np.repeat(np.arange(len(frame_scores)), [len(f) for f in frame_scores])


# ---- repeats -------------------------------------------------------------------------------

_REPEAT_RE = re.compile(r"^(?P<base>.+?)_r(?P<k>\d+)$")
_RATIO_RE = re.compile(r"(?:^|_)(?P<fake>\d+)to(?P<real>\d+)(?:_|$)")


def split_repeat(name: str) -> tuple[str, int | None]:
    """'test_1to100_r3' -> ('test_1to100', 3); 'test_1to10' -> ('test_1to10', None)."""
    m = _REPEAT_RE.match(name)
    return (m["base"], int(m["k"])) if m else (name, None)


def ratio_from_name(name: str) -> tuple[int, int] | None:
    """'test_1to100_r0' -> (1, 100) (fake, real); None when the name carries no ratio."""
    m = _RATIO_RE.search(name)
    return (int(m["fake"]), int(m["real"])) if m else None


def ratio_sort_key(row: dict[str, Any]) -> tuple[bool, float]:
    """Sets without a named ratio (test.csv) first, then 1:1, 1:10, ... 1:200."""
    ratio = ratio_from_name(str(row.get("set", "")))
    return (ratio is not None, ratio[1] / ratio[0] if ratio else 0.0)


def format_ratio(ratio: tuple[int, int] | None, n_real: int = 0, n_fake: int = 0) -> str:
    """'1:10' from a named ratio, else the natural ratio of the counts ('1:3.2', 'n/a')."""
    if ratio is not None:
        return f"{ratio[0]}:{ratio[1]}"
    if n_fake and n_real:
        k = n_real / n_fake
        return f"1:{k:.3g}" if k >= 1 else f"{n_fake / n_real:.3g}:1"
    return "n/a"


def _clean(values: Iterable[Any]) -> list[float]:
    return [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]


def mean_std(values: Iterable[float | None]) -> tuple[float | None, float | None, int]:
    """Mean and sample standard deviation (ddof=1; 0.0 for one value) of the non-None values."""
    vals = _clean(values)
    if not vals:
        return None, None, 0
    std = float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0
    return float(np.mean(vals)), std, len(vals)


def aggregate_repeats(rows: Sequence[Mapping[str, Any]], metrics: Sequence[str] = ALL_METRICS) -> dict[str, Any]:
    """Mean ± std over repeat rows of one ratio: {metric: mean, metric_std: std, repeats: n}.

    Counts are averaged too (repeats draw the same counts, so this is usually exact).
    """
    out: dict[str, Any] = {"repeats": len(rows)}
    for key in ("n_real", "n_fake"):
        m, _, _ = mean_std(r.get(key) for r in rows)
        out[key] = int(round(m)) if m is not None else 0
    for metric in metrics:
        m, s, _ = mean_std(r.get(metric) for r in rows)
        out[metric], out[f"{metric}_std"] = m, s
    notes = sorted({r.get("note", "") for r in rows if r.get("note")})
    out["note"] = "; ".join(notes)
    return out
