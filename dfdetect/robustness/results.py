"""robustness.csv, the stdout table, robustness.png and the HTML report section."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dfdetect.robustness.jobs import CLEAN

if TYPE_CHECKING:
    import pandas as pd
    from rich.table import Table

    from dfdetect.robustness.runner import RobustnessResult

COLUMNS = ["perturbation", "level", "param", "n_real", "n_fake", "n_failed", "n_no_face", "auc", "auc_lo", "auc_hi",
           "balanced_accuracy", "tpr", "fpr", "threshold", "threshold_source", "checkpoint"]


def rates(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float | None]:
    """Balanced accuracy, tpr and fpr with `score >= threshold` = fake (None for a missing class)."""
    pred = scores >= threshold
    tpr = float(pred[labels == 1].mean()) if (labels == 1).any() else None
    fpr = float(pred[labels == 0].mean()) if (labels == 0).any() else None
    present = [r for r in (tpr, None if fpr is None else 1.0 - fpr) if r is not None]
    return {"balanced_accuracy": float(np.mean(present)) if present else None, "tpr": tpr, "fpr": fpr}


def condition_rows(result: "RobustnessResult") -> "pd.DataFrame":
    """One row per (perturbation, level), the clean set first (level 0)."""
    import pandas as pd

    from dfdetect.evaluation.intervals import auc_with_ci

    rows = []
    for name, level, param in result.conditions:
        y, s = result.labels[(name, level)], result.scores[(name, level)]
        ci = auc_with_ci(y, s)
        failed = result.failures[(name, level)]
        rows.append({"perturbation": name, "level": level, "param": param,
                     "n_real": int((y == 0).sum()), "n_fake": int((y == 1).sum()),
                     "n_failed": int(sum(n for k, n in failed.items() if k != "no_face")),
                     "n_no_face": int(failed.get("no_face", 0)),
                     "auc": ci.auc if ci else None, "auc_lo": ci.lo if ci else None, "auc_hi": ci.hi if ci else None,
                     **rates(y, s, result.threshold), "threshold": result.threshold,
                     "threshold_source": result.threshold_source, "checkpoint": result.checkpoint})
    return pd.DataFrame(rows, columns=COLUMNS)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def robustness_table(df: "pd.DataFrame", title: str) -> "Table":
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for col in ("perturbation", "level", "param", "real", "fake", "failed", "AUC [95% CI]", "bal. acc", "TPR", "FPR"):
        table.add_column(col, justify="left" if col == "perturbation" else "right")
    for r in df.to_dict("records"):
        interval = f" [{_fmt(r['auc_lo'], 2)}, {_fmt(r['auc_hi'], 2)}]" if not pd_isna(r["auc_lo"]) else ""
        table.add_row(str(r["perturbation"]), str(r["level"]), str(r["param"]), str(r["n_real"]), str(r["n_fake"]),
                      str(r["n_failed"] + r["n_no_face"]), _fmt(r["auc"]) + interval, _fmt(r["balanced_accuracy"]),
                      _fmt(r["tpr"]), _fmt(r["fpr"]))
    return table


def pd_isna(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def plot_robustness(df: "pd.DataFrame", path: str | Path) -> Path:
    """AUC (with its interval) and balanced accuracy against level, one panel per perturbation;
    the clean values as dashed lines. Agg canvas, no pyplot (no global backend change)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    clean = df[df["perturbation"] == CLEAN]
    names = [n for n in dict.fromkeys(df["perturbation"]) if n != CLEAN]
    ncols = min(3, max(1, len(names)))
    nrows = max(1, math.ceil(len(names) / ncols))
    fig = Figure(figsize=(4.0 * ncols, 3.0 * nrows), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= len(names):
            ax.set_visible(False)
            continue
        part = df[df["perturbation"] == names[i]].sort_values("level")
        x = part["level"].to_numpy()
        auc = part["auc"].astype(float).to_numpy()
        lo = part["auc_lo"].astype(float).to_numpy()
        hi = part["auc_hi"].astype(float).to_numpy()
        ax.errorbar(x, auc, yerr=np.nan_to_num(np.vstack([auc - lo, hi - auc]), nan=0.0), marker="o", capsize=3,
                    label="AUC", color="tab:blue")
        ax.plot(x, part["balanced_accuracy"].astype(float).to_numpy(), marker="s", label="balanced accuracy",
                color="tab:orange")
        if len(clean):
            ax.axhline(float(clean["auc"].iloc[0]) if not pd_isna(clean["auc"].iloc[0]) else np.nan,
                       color="tab:blue", ls="--", lw=0.8)
            ax.axhline(float(clean["balanced_accuracy"].iloc[0]) if not pd_isna(clean["balanced_accuracy"].iloc[0])
                       else np.nan, color="tab:orange", ls="--", lw=0.8)
        params = ", ".join(str(p) for p in part["param"])
        ax.set_title(f"{names[i]} ({params})", fontsize=9)
        ax.set_xticks(x)
        ax.set_xlim(0.5, 5.5)
        ax.set_ylim(0.0, 1.02)
        ax.set_xlabel("level")
        ax.grid(alpha=0.3)
        if i == 0:
            ax.legend(fontsize=7, loc="lower left")
    fig.suptitle("Robustness: dashed = clean", fontsize=10)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(p, format="png")
    return p


def report_section(df: "pd.DataFrame", png: Path, subtitle: str) -> str:
    """The HTML of the robustness section: the plot and the table (escaped, self-contained)."""
    from dfdetect.report.figures import file_uri
    from dfdetect.report.html import esc

    head = "".join(f"<th>{esc(c)}</th>" for c in ("perturbation", "level", "param", "real", "fake", "failed", "AUC",
                                                 "95% CI", "balanced acc", "TPR", "FPR"))
    body = []
    for r in df.to_dict("records"):
        ci = f"{_fmt(r['auc_lo'], 2)}–{_fmt(r['auc_hi'], 2)}" if not pd_isna(r["auc_lo"]) else "n/a"
        cells = [r["perturbation"], r["level"], r["param"], r["n_real"], r["n_fake"], r["n_failed"] + r["n_no_face"],
                 _fmt(r["auc"]), ci, _fmt(r["balanced_accuracy"]), _fmt(r["tpr"]), _fmt(r["fpr"])]
        first, rest = f'<td class="l">{esc(cells[0])}</td>', "".join(f"<td>{esc(c)}</td>" for c in cells[1:])
        body.append(f"<tr>{first}{rest}</tr>")
    return (f'<p class="sub">{esc(subtitle)}</p><div class="figs"><img src="{file_uri(png)}" alt="robustness" '
            f'style="max-width:100%"></div><table><tr>{head}</tr>{"".join(body)}</table>')
