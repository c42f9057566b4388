"""PNG figures: ROC curves, AUC against imbalance ratio, per-frame score timelines.

matplotlib is imported lazily, and figures are drawn on an Agg canvas directly (no pyplot), so
nothing here changes matplotlib's global backend or needs a display.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _figure(width: float, height: float) -> "Figure":
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: "Figure", path: str | Path) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(p, format="png")
    return p


def plot_roc_curves(
    curves: Sequence[tuple[str, Sequence[int], Sequence[float]]], path: str | Path, title: str = "ROC"
) -> Path:
    """All sets' ROC curves on one figure; one-class sets are listed as skipped in the legend."""
    from sklearn.metrics import roc_auc_score, roc_curve

    fig = _figure(6.0, 5.5)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([0, 1], [0, 1], color="0.7", linestyle="--", linewidth=1)
    for name, labels, scores in curves:
        y = np.asarray(labels)
        if not ((y == 0).any() and (y == 1).any()):
            ax.plot([], [], " ", label=f"{name} (one class, no ROC)")
            continue
        fpr, tpr, _ = roc_curve(y, scores)
        ax.plot(fpr, tpr, linewidth=1.5, label=f"{name} (AUC {roc_auc_score(y, scores):.3f})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false positive rate (real called fake)")
    ax.set_ylabel("true positive rate (fake caught)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def _error_bar(value: float, std: float | None, lo: float | None, hi: float | None) -> tuple[float, float]:
    """(below, above) the point: the interval when there is one, else ±std, else nothing."""
    if lo is not None and hi is not None:
        return max(0.0, value - lo), max(0.0, hi - value)
    return (std or 0.0, std or 0.0)


def interval_gaps(series: Mapping[str, Sequence[tuple]]) -> str:
    """A one-line note naming the single-set points drawn without an error bar (no std, no
    interval: a class had fewer than two videos), '' when every such point has its bar."""
    gaps = [f"1:{p[0]:g}" + (f" ({name})" if len(series) > 1 else "") for name, points in series.items()
            for p in points if p[1] is not None and p[2] is None and len(p) >= 5 and (p[3] is None or p[4] is None)]
    if not gaps:
        return ""
    return f"no error bar at {', '.join(gaps)}: fewer than two fake or real videos, so no honest interval"


def plot_auc_vs_ratio(
    series: Mapping[str, Sequence[tuple]],
    path: str | Path,
    title: str = "AUC against imbalance ratio",
    metric: str = "AUC",
) -> Path:
    """One line per series of points (real videos per fake, value, std[, lo, hi]); log-scale x,
    as in the paper's figure. Error bars show the interval [lo, hi] where a point has one (a
    single test set: 95 % DeLong), else ±std (repeats). Missing values (one-class sets) leave gaps.
    A single set without an interval (one fake or one real video) gets no bar, and a note below."""
    fig = _figure(7.0, 4.8)
    ax = fig.add_subplot(1, 1, 1)
    ticks: set[float] = set()
    markers = "osD^v<>ph*"
    for i, (name, points) in enumerate(series.items()):
        pts = []
        for point in points:
            if point[1] is None:
                continue
            lo, hi = (point[3], point[4]) if len(point) >= 5 else (None, None)
            pts.append((point[0], point[1], *_error_bar(point[1], point[2], lo, hi)))
        pts.sort()
        if not pts:
            continue
        k, mean, below, above = (np.array(v, dtype=float) for v in zip(*pts))
        ticks.update(k.tolist())
        bars = np.vstack([below, above])
        ax.errorbar(k, mean, yerr=bars if bars.any() else None, marker=markers[i % len(markers)],
                    linewidth=1.5, markersize=5, capsize=3, label=name)
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)  # error bars of tiny sets would otherwise run past [0, 1]
    if ticks:
        from matplotlib.ticker import FixedLocator, NullLocator

        ordered = sorted(ticks)
        ax.xaxis.set_major_locator(FixedLocator(ordered))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([f"1:{t:g}" for t in ordered])
    gaps = interval_gaps(series)  # a second line of the label, so tight_layout keeps room for it
    ax.set_xlabel("imbalance ratio (fake:real); bars: 95 % CI of one set, ±1 std over repeats"
                  + (f"\n{gaps}" if gaps else ""))
    ax.set_ylabel(metric)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if series:
        ax.legend(fontsize=8, loc="best")
    return _save(fig, path)


def plot_frame_timeline(
    frame_indices: Sequence[int],
    frame_probs: Sequence[float],
    path: str | Path,
    threshold: float = 0.5,
    video_prob: float | None = None,
    title: str = "",
) -> Path:
    """A small per-frame fake-probability timeline, so a reviewer sees where a clip looks fake."""
    fig = _figure(6.0, 2.2)
    ax = fig.add_subplot(1, 1, 1)
    x = np.asarray(frame_indices, dtype=float)
    y = np.asarray(frame_probs, dtype=float)
    if len(x):
        ax.plot(x, y, color="tab:red", marker="o", markersize=3, linewidth=1.2, label="frame")
        ax.fill_between(x, threshold, y, where=y >= threshold, color="tab:red", alpha=0.2, interpolate=True)
    ax.axhline(threshold, color="0.5", linestyle="--", linewidth=1, label=f"threshold {threshold:g}")
    if video_prob is not None:
        ax.axhline(video_prob, color="tab:blue", linewidth=1, label=f"video {video_prob:.2f}")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("source frame")
    ax.set_ylabel("P(fake)")
    if title:
        ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper right")
    return _save(fig, path)
