"""The reliability diagram of `eval --report`: is a video given P(fake) = 0.8 fake 80 % of the time?"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np


def plot_reliability(
    curves: Sequence[tuple[str, Sequence[int], Sequence[float]]], path: str | Path, threshold: float | None = None,
    title: str = "Reliability",
) -> Path:
    """Fraction of fakes against mean P(fake) in the 15 equal-width bins the ECE uses, one line per
    set (points sized by the bin's share of videos), the diagonal of perfect calibration, and
    below it how many videos fall in each bin."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from dfdetect.evaluation.calibration import ECE_BINS, expected_calibration_error, reliability_bins

    fig = Figure(figsize=(6.0, 6.5), dpi=100)  # an Agg canvas, no pyplot: no global backend change
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.12, 0.36, 0.83, 0.57))
    hist = fig.add_axes((0.12, 0.08, 0.83, 0.18), sharex=ax)
    ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1, label="perfectly calibrated")
    edges = np.linspace(0, 1, ECE_BINS + 1)
    for name, labels, scores in curves:
        y, p = np.asarray(labels), np.asarray(scores, dtype=np.float64)
        if not y.size:
            continue
        count, mean_p, frac = reliability_bins(y, p)
        used = count > 0
        ece = expected_calibration_error(y, p)
        line, = ax.plot(mean_p[used], frac[used], marker="o", markersize=3, linewidth=1.5,
                        label=f"{name} (ECE {ece:.3f}, n={y.size})")
        ax.scatter(mean_p[used], frac[used], s=200 * count[used] / count.sum(), color=line.get_color(), alpha=0.4)
        hist.stairs(count, edges, color=line.get_color(), linewidth=1.2)
    if threshold is not None:
        for axis in (ax, hist):
            axis.axvline(threshold, color="tab:red", linestyle=":", linewidth=1)
        ax.plot([], [], color="tab:red", linestyle=":", label=f"threshold {threshold:.3g}")
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("fraction of fakes")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    ax.tick_params(labelbottom=False)
    hist.set_xlabel("predicted P(fake)")
    hist.set_ylabel("videos")
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, format="png")
    return p
