"""`dfdetect benchmark --data SPLITS` on a k-fold folder (`split --folds K`: SPLITS/fold_0 …
fold_{K-1}, each with train.csv, val.csv and test.csv, every video in exactly one test.csv).

One model per fold per model × loss (trained on fold_i/train.csv, best.ckpt selected on
fold_i/val.csv, scored on fold_i/test.csv). The out-of-fold video scores of all folds are pooled
into one AUC over every video, with DeLong's 95 % interval; the per-fold AUCs give the spread.
Pooling assumes the fold models' scores are on a comparable scale (same recipe, same data size),
the usual practice for out-of-fold AUC; the per-fold spread shows when they are not.
"""

from __future__ import annotations

import math

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from dfdetect import console
from dfdetect.errors import DfdetectError

_FOLD = re.compile(r"fold_(\d+)")


def find_folds(splits: Path) -> list[Path]:
    """fold_0, fold_1, … (numeric order) if SPLITS is a folds folder, else []."""
    folds = [p for p in Path(splits).iterdir() if p.is_dir() and _FOLD.fullmatch(p.name)] if Path(splits).is_dir() else []
    folds.sort(key=lambda p: int(_FOLD.fullmatch(p.name).group(1)))  # type: ignore[union-attr]
    for fold in folds:
        for name in ("train.csv", "test.csv"):
            if not (fold / name).is_file():
                raise DfdetectError(f"{fold}: no {name}; a folds folder from `dfdetect split --folds K` holds "
                                    "train.csv, val.csv and test.csv in every fold_i/")
    return folds


def auc_confidence_interval(labels: Any, scores: Any, level: float = 0.95) -> tuple[float, float, float]:
    """(auc, lo, hi): DeLong's interval (dfdetect.evaluation.intervals, as eval reports it); NaNs for one class."""
    from dfdetect.evaluation.intervals import auc_with_ci

    ci = auc_with_ci(labels, scores, level)
    return (ci.auc, ci.lo, ci.hi) if ci is not None else (math.nan, math.nan, math.nan)


@dataclass
class FoldsResult:
    out_dir: Path
    folds: list[Path]
    fold_rows: list[dict[str, Any]] = field(default_factory=list)  # one per model × loss × fold
    pooled: list[dict[str, Any]] = field(default_factory=list)  # one per model × loss
    runs: dict[str, Path] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def run_folds(options: Any) -> FoldsResult:
    """`options` is a runner.BenchmarkOptions whose `data` is a folds folder."""
    import numpy as np
    import pandas as pd

    from dfdetect.benchmarking.cells import run_pool
    from dfdetect.benchmarking.runner import check_benchmark_names, run_combo, default_out_dir, resolve_jobs
    from dfdetect.manifest import write_csv_atomic

    check_benchmark_names(options)
    folds = find_folds(Path(options.data))
    if not folds:
        raise DfdetectError(f"{options.data}: no fold_0/ … folders; write them with `dfdetect split --folds K`")
    out = Path(options.out) if options.out else default_out_dir()
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    combos = [(m, loss) for m in options.models for loss in options.losses]
    tasks = [(m, loss, options, fold, [fold / "test.csv"], out / fold.name) for m, loss in combos for fold in folds]
    jobs = resolve_jobs(options.jobs, options.device)
    console.info(f"training {len(tasks)} models ({len(combos)} model × loss pairs × {len(folds)} folds), {jobs} at a time ...")
    count = [0]

    def done(i: int, outcome: tuple) -> None:
        count[0] += 1
        m, loss, _, fold, _, _ = tasks[i]
        auc = outcome[1].sets[0].metrics.get("auc")
        console.info(f"[{count[0]}/{len(tasks)}] {m}+{loss} {fold.name}: {outcome[2]:.0f}s train, "
                     f"test AUC {'n/a' if auc is None else f'{auc:.3f}'}")

    outcomes = run_pool(run_combo, tasks, jobs, on_done=done)
    result = FoldsResult(out, folds)
    scores = []
    for (m, loss, _, fold, _, _), (run_dir, report, train_s, eval_s) in zip(tasks, outcomes):
        test = report.sets[0]
        result.runs[f"{m}+{loss}/{fold.name}"] = Path(run_dir)
        result.fold_rows.append({"model": m, "loss": loss, "fold": fold.name, "n_real": test.metrics["n_real"],
                                 "n_fake": test.metrics["n_fake"], "auc": test.metrics.get("auc"),
                                 "frame_auc": test.metrics.get("frame_auc"), "train_s": round(train_s, 2),
                                 "eval_s": round(eval_s, 2), "run": str(run_dir)})
        scores.append(pd.DataFrame({"model": m, "loss": loss, "fold": fold.name, "video_id": test.video_ids,
                                    "label": test.labels, "score": test.video_scores}))
    oof = pd.concat(scores, ignore_index=True)
    for m, loss in combos:
        part = oof[(oof["model"] == m) & (oof["loss"] == loss)]
        per_fold = [r["auc"] for r in result.fold_rows if r["model"] == m and r["loss"] == loss and r["auc"] is not None]
        row: dict[str, Any] = {"model": m, "loss": loss, "videos": len(part), "n_real": int((part["label"] == 0).sum()),
                               "n_fake": int((part["label"] == 1).sum()), "folds": len(folds)}
        if row["n_real"] and row["n_fake"]:
            auc, lo, hi = auc_confidence_interval(part["label"].to_numpy(), part["score"].to_numpy())
            row.update(pooled_auc=auc, pooled_auc_lo=lo, pooled_auc_hi=hi)
        else:
            row.update(pooled_auc=None, pooled_auc_lo=None, pooled_auc_hi=None)
        row.update(fold_auc_mean=float(np.mean(per_fold)) if per_fold else None,
                   fold_auc_std=float(np.std(per_fold, ddof=1)) if len(per_fold) > 1 else None,
                   fold_auc_min=min(per_fold, default=None), fold_auc_max=max(per_fold, default=None))
        result.pooled.append(row)
    result.timings["total"] = time.perf_counter() - started
    write_csv_atomic(oof, out / "oof_scores.csv")
    write_csv_atomic(pd.DataFrame(result.fold_rows), out / "folds.csv")
    write_csv_atomic(pd.DataFrame(result.pooled), out / "results.csv")
    return result


def folds_table(pooled: Sequence[dict[str, Any]]):
    """Rows = model × loss: pooled out-of-fold AUC [95 % DeLong], per-fold mean ± std and range."""
    from rich.table import Table

    folds = max((r["folds"] for r in pooled), default=0)
    table = Table(title=f"dfdetect benchmark: pooled out-of-fold video AUC over {folds} folds", header_style="bold")
    for name, justify in (("model", "left"), ("loss", "left"), ("videos (real/fake)", "right"),
                          ("pooled AUC [95 % DeLong]", "right"), ("folds mean ± std", "right"), ("fold range", "right")):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for r in pooled:
        pooled_text = "n/a" if r["pooled_auc"] is None else \
            f"{r['pooled_auc']:.3f} [{r['pooled_auc_lo']:.3f}, {r['pooled_auc_hi']:.3f}]"
        mean = "n/a" if r["fold_auc_mean"] is None else f"{r['fold_auc_mean']:.3f}" + (
            "" if r["fold_auc_std"] is None else f" ± {r['fold_auc_std']:.3f}")
        spread = "n/a" if r["fold_auc_min"] is None else f"{r['fold_auc_min']:.3f}–{r['fold_auc_max']:.3f}"
        table.add_row(r["model"], r["loss"], f"{r['videos']} ({r['n_real']}/{r['n_fake']})", pooled_text, mean, spread)
    return table
