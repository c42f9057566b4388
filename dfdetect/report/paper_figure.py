"""The paper-style figure of `benchmark --protocol paper`: AUC against the fake:real ratio.

One line per model × loss, error bars = the 95 % interval over seeds (t-interval, clipped to
[0, 1]), log-scale x with the ratios as ticks, chance (0.5) dashed. Drawn on an Agg canvas
(no pyplot), so nothing changes matplotlib's global state.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence


def plot_paper_figure(summary: Sequence[dict[str, Any]], path: str | Path, metric: str = "auc",
                      title: str | None = None) -> Path:
    """summary rows (paper.summarise) -> PNG at `path`."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedLocator, NullLocator

    fig = Figure(figsize=(7.5, 5.0), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    series: dict[str, list[dict[str, Any]]] = {}
    for r in summary:
        series.setdefault(f"{r['model']} + {r['loss']}", []).append(r)
    markers, styles = "osD^v<>ph*", ["-", "--", ":", "-."]
    ticks: set[float] = set()
    for i, (name, rows) in enumerate(series.items()):
        rows = sorted((r for r in rows if r.get(metric) is not None and not math.isnan(r[metric])),
                      key=lambda r: r["real_per_fake"])
        if not rows:
            continue
        x = np.array([r["real_per_fake"] for r in rows], dtype=float)
        mean = np.array([r[metric] for r in rows], dtype=float)
        lo = np.array([r.get(f"{metric}_lo", math.nan) for r in rows], dtype=float)
        hi = np.array([r.get(f"{metric}_hi", math.nan) for r in rows], dtype=float)
        lo = np.where(np.isnan(lo), mean, np.clip(lo, 0, 1))
        hi = np.where(np.isnan(hi), mean, np.clip(hi, 0, 1))
        ticks.update(x.tolist())
        # small horizontal offsets so that overlapping bars stay readable
        shift = 1.0 + 0.03 * (i - (len(series) - 1) / 2)
        ax.errorbar(x * shift, mean, yerr=[mean - lo, hi - mean], marker=markers[i % len(markers)],
                    linestyle=styles[(i // len(markers)) % len(styles)], linewidth=1.4, markersize=5,
                    capsize=3, label=name)
    ax.axhline(0.5, color="grey", linewidth=1, linestyle="--", zorder=0)
    ax.set_xscale("log")
    ax.set_ylim(0.0, 1.02)
    if ticks:
        ordered = sorted(ticks)
        ax.xaxis.set_major_locator(FixedLocator(ordered))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([f"1:{t:g}" for t in ordered])
    seeds = max((r.get("seeds", 1) for r in summary), default=1)
    ax.set_xlabel("imbalance ratio (fake:real), training and test set alike")
    ax.set_ylabel(f"video {metric.upper()}")
    ax.set_title(title or f"AUC under imbalance (mean of {seeds} seeds, bars: 95 % interval)")
    ax.grid(alpha=0.3)
    if series:
        ax.legend(fontsize=7, loc="lower left", ncol=2)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(p, format="png")
    return p
