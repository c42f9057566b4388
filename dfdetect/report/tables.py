"""Rendering evaluation results: rich tables (n/a for undefined metrics, mean ± std for
repeats) and the eval figures."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from dfdetect.evaluation.metrics import CALIBRATION_METRICS, FRAME_METRICS, METRIC_TITLES, VIDEO_METRICS, mean_std

STD_SHOWN = ("auc", "ap", "eer")
# The metrics table keeps to 160 columns; the calibration metrics get a table of their own
# (calibration_table); results.csv and the HTML report hold everything.
TABLE_METRICS = VIDEO_METRICS + FRAME_METRICS

if TYPE_CHECKING:
    from rich.table import Table

    from dfdetect.evaluation.evaluate import EvalReport


def print_table(table: "Table") -> None:
    """Print a wide table to stdout; when piped (no terminal, no $COLUMNS) use 200 columns
    instead of rich's 80, so that files get whole numbers rather than '0.4…'."""
    import os
    import sys

    from rich.console import Console

    from dfdetect import console

    if console.stdout.is_terminal or os.environ.get("COLUMNS"):
        console.stdout.print(table)
    else:  # Console.print(width=) cannot exceed the console's own width
        Console(file=sys.stdout, width=200, soft_wrap=True).print(table)


def fmt_value(value: Any, std: Any = None, digits: int = 3, sep: str = " ± ") -> str:
    """0.9123 -> '0.912', with std -> '0.912 ± 0.010', None/NaN -> 'n/a'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    text = f"{float(value):.{digits}f}"
    if std is not None and not (isinstance(std, float) and math.isnan(std)):
        text += f"{sep}{float(std):.{digits}f}"
    return text


def fmt_interval(lo: Any, hi: Any, digits: int = 2) -> str:
    """(0.853, 0.971) -> '0.85-0.97'; a missing bound -> 'n/a'."""
    if lo is None or hi is None or any(isinstance(v, float) and math.isnan(v) for v in (lo, hi)):
        return "n/a"
    return f"{float(lo):.{digits}f}-{float(hi):.{digits}f}"


# The 95 % interval column shown right after its metric.
_CI_OF = {"auc": ("auc_lo", "auc_hi", "AUC 95%"), "frame_auc": ("frame_auc_lo", "frame_auc_hi", "fAUC 95%")}


def metrics_table(
    rows: Sequence[dict[str, Any]], title: str = "", metrics: Sequence[str] = TABLE_METRICS, ci: bool = True
) -> "Table":
    """Rows = test sets (name, ratio, n_real, n_fake), columns = metrics; notes under the table.

    Repeats show the mean of every metric, with ±std for the ranking metrics (AUC, AP, EER), so
    that the table fits a 160-column terminal; results.csv holds every std. With `ci`, AUC and
    fAUC are followed by their 95 % interval (DeLong; bootstrap over videos; Hanley–McNeil for
    either when a class has under 30 videos) for single sets: `n/a` when a class has fewer than two videos,
    and the row's note (under the table) says so.
    """
    from rich.table import Table

    notes = [f"{r['set']}: {r['note']}" for r in rows if r.get("note")]
    if any(r.get("kind") == "repeats" for r in rows):
        notes.insert(0, "(×k): mean over k repeats, ± one standard deviation")
    table = Table(title=title or None, header_style="bold", caption="\n".join(notes) or None,
                  caption_justify="left")
    for col in ("set", "ratio", "n_real", "n_fake"):
        table.add_column(col, justify="left" if col in ("set", "ratio") else "right", no_wrap=True)
    for m in metrics:
        table.add_column(METRIC_TITLES.get(m, m), justify="right", no_wrap=True)
        if ci and m in _CI_OF:
            table.add_column(_CI_OF[m][2], justify="right", no_wrap=True)
    for r in rows:
        repeats = r.get("kind") == "repeats"
        name = r["set"] + (f" (×{r['repeats']})" if repeats else "") + (" *" if r.get("note") else "")
        cells = []
        for m in metrics:
            cells.append(fmt_value(r.get(m), r.get(f"{m}_std") if repeats and m in STD_SHOWN else None, sep="±"))
            if ci and m in _CI_OF:  # repeats already show their spread as ±std
                lo, hi, _ = _CI_OF[m]
                cells.append("" if repeats else fmt_interval(r.get(lo), r.get(hi)))
        table.add_row(name, str(r["ratio"]), str(r["n_real"]), str(r["n_fake"]), *cells)
    return table


def calibration_table(rows: Sequence[dict[str, Any]], threshold: float, prior: str = "1:100") -> "Table":
    """Per test set: can its probabilities and verdicts be acted on? Brier, ECE (15 bins), recall at
    1 % and 5 % false positives, and precision at the deployment prior (repeats: their mean)."""
    from rich.table import Table

    table = Table(title=f"calibration · threshold {threshold:.3g} · prior {prior} (fake:real)", header_style="bold")
    table.add_column("set", no_wrap=True)
    for m in CALIBRATION_METRICS:
        table.add_column(METRIC_TITLES.get(m, m), justify="right", no_wrap=True)
    for r in rows:
        name = r["set"] + (f" (×{r['repeats']})" if r.get("kind") == "repeats" else "")
        table.add_row(name, *(fmt_value(r.get(m)) for m in CALIBRATION_METRICS))
    return table


def auc_ratio_points(report: "EvalReport") -> list[tuple]:
    """(K of 1:K, AUC, std, lo, hi) per group: a single set carries its DeLong interval (lo, hi),
    repeats their mean and standard deviation (lo and hi None)."""
    by_group: dict[str, list] = {}
    for s in report.sets:
        by_group.setdefault(s.group, []).append(s)
    points = []
    for members in by_group.values():
        k = members[0].real_per_fake()
        if k is None:
            continue
        vals = [m.metrics.get("auc") for m in members]
        mean, std, _ = mean_std(vals)
        if len(members) == 1:
            points.append((k, mean, None, members[0].metrics.get("auc_lo"), members[0].metrics.get("auc_hi")))
        else:
            points.append((k, mean, std, None, None))
    return points


def write_eval_plots(report: "EvalReport", out_dir: str | Path, label: str | None = None) -> list[Path]:
    """roc.png (every set; for repeats only the first) and auc_vs_ratio.png into out_dir."""
    from dfdetect.report.plots import plot_auc_vs_ratio, plot_roc_curves

    out = Path(out_dir)
    seen: set[str] = set()
    curves = []
    for s in report.sets:
        if s.group in seen:
            continue
        seen.add(s.group)
        curves.append((s.name, s.labels, s.video_scores))
    from dfdetect.scoring.ensemble import describe_model

    name = label or describe_model(report.config)
    return [
        plot_roc_curves(curves, out / "roc.png", title=f"ROC: {name}"),
        plot_auc_vs_ratio({name: auc_ratio_points(report)}, out / "auc_vs_ratio.png"),
    ]


def auc_ratio_series(reports: dict[str, "EvalReport"]) -> dict[str, list[tuple]]:
    """Series for plot_auc_vs_ratio from several reports (benchmark: one per model × loss)."""
    return {name: auc_ratio_points(rep) for name, rep in reports.items()}
