"""`dfdetect benchmark --data SPLITS` on a k-fold folder (`split --folds K`: SPLITS/fold_0 …
fold_{K-1}, each with train.csv, val.csv and test.csv, every video in exactly one test.csv).

One model per fold per model × loss (trained on fold_i/train.csv, best.ckpt selected on
fold_i/val.csv, scored on fold_i/test.csv). The out-of-fold video scores of all folds are pooled
into one AUC over every video, with DeLong's 95 % interval (videos as independent) and a cluster
bootstrap over identity groups (the `group` column: videos of one identity are not independent,
so this interval is the honest one where groups hold several videos); the per-fold AUCs give the
spread.
Pooling assumes the fold models' scores are on a comparable scale (same recipe, same data size),
the usual practice for out-of-fold AUC; the per-fold spread shows when they are not.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from dfdetect import console
from dfdetect.errors import DfdetectError

_FOLD = re.compile(r"fold_(\d+)")


def find_folds(splits: Path) -> list[Path]:
    """fold_0, fold_1, … (numeric order) if SPLITS is a folds folder, else [].

    Where SPLITS holds a folds.json, the fold folders must be exactly the ones it lists: a missing
    fold_i/ would silently shrink the "pooled" AUC to the other folds' videos."""
    splits = Path(splits)
    folds = [p for p in splits.iterdir() if p.is_dir() and _FOLD.fullmatch(p.name)] if splits.is_dir() else []
    folds.sort(key=lambda p: int(_FOLD.fullmatch(p.name).group(1)))  # type: ignore[union-attr]
    listed = _listed_folds(splits)
    if listed is not None:
        missing = [name for name in listed if not (splits / name).is_dir()]
        if missing:
            raise DfdetectError(f"{splits}: folds.json lists {len(listed)} folds but {missing[0]}/ is missing, so a "
                                f"pooled AUC would leave its videos out; re-run `dfdetect split --folds {len(listed)}`")
        extra = [p.name for p in folds if p.name not in listed]
        if extra:
            raise DfdetectError(f"{splits}: {extra[0]}/ is not one of the {len(listed)} folds folds.json lists; "
                                f"remove it or re-run `dfdetect split --folds K`")
        folds = [splits / name for name in listed]
    for fold in folds:
        for name in ("train.csv", "test.csv"):
            if not (fold / name).is_file():
                raise DfdetectError(f"{fold}: no {name}; a folds folder from `dfdetect split --folds K` holds "
                                    "train.csv, val.csv and test.csv in every fold_i/")
    return folds


def _listed_folds(splits: Path) -> list[str] | None:
    """The fold folder names folds.json lists, None without a folds.json."""
    import json

    from dfdetect.splitting.layout import FOLDS_NAME

    path = splits / FOLDS_NAME
    if not path.is_file():
        return None
    try:
        return [Path(f["dir"]).name for f in json.loads(path.read_text(encoding="utf-8"))["folds"]]
    except (ValueError, TypeError, KeyError) as exc:
        raise DfdetectError(f"{path}: not a folds.json written by `dfdetect split --folds` ({exc})") from None


def fold_test_groups(fold: Path) -> dict[str, str]:
    """video_id -> identity group of a fold's test.csv (the video itself where no group is given)."""
    import pandas as pd

    df = pd.read_csv(fold / "test.csv", dtype=str, keep_default_na=False)
    groups = df["group"] if "group" in df else df["video_id"]
    return {v: (g or v) for v, g in zip(df["video_id"], groups)}


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
    import pandas as pd

    from dfdetect.benchmarking.experiment import run_pool
    from dfdetect.benchmarking.oof import fold_spread, pooled_auc
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

    def done(i: int, outcome: Any) -> None:
        count[0] += 1
        m, loss, _, fold, _, _ = tasks[i]
        auc = outcome.test_set().metrics.get("auc")
        console.info(f"[{count[0]}/{len(tasks)}] {m}+{loss} {fold.name}: {outcome.train_s:.0f}s train, "
                     f"test AUC {'n/a' if auc is None else f'{auc:.3f}'}")

    outcomes = run_pool(run_combo, tasks, jobs, on_done=done)
    result = FoldsResult(out, folds)
    scores = []
    groups = {fold.name: fold_test_groups(fold) for fold in folds}
    for (m, loss, _, fold, _, _), outcome in zip(tasks, outcomes):
        test = outcome.test_set()
        result.runs[f"{m}+{loss}/{fold.name}"] = Path(outcome.run_dir)
        result.fold_rows.append({"model": m, "loss": loss, "fold": fold.name, "n_real": test.metrics["n_real"],
                                 "n_fake": test.metrics["n_fake"], "auc": test.metrics.get("auc"),
                                 "frame_auc": test.metrics.get("frame_auc"), "train_s": round(outcome.train_s, 2),
                                 "eval_s": round(outcome.eval_s, 2), "run": str(outcome.run_dir)})
        scores.append(pd.DataFrame({"model": m, "loss": loss, "fold": fold.name, "video_id": test.video_ids,
                                    "group": [groups[fold.name].get(v, v) for v in test.video_ids],
                                    "label": test.labels, "score": test.video_scores}))
    oof = pd.concat(scores, ignore_index=True)
    for m, loss in combos:
        part = oof[(oof["model"] == m) & (oof["loss"] == loss)]
        per_fold = [r["auc"] for r in result.fold_rows if r["model"] == m and r["loss"] == loss and r["auc"] is not None]
        row: dict[str, Any] = {"model": m, "loss": loss, "videos": len(part), "n_real": int((part["label"] == 0).sum()),
                               "n_fake": int((part["label"] == 1).sum()), "groups": int(part["group"].nunique()),
                               "folds": len(folds)}
        pooled = pooled_auc(part["label"].to_numpy(), part["score"].to_numpy(), part["group"].to_numpy(),
                            seed=options.seed)
        row.update({f"pooled_{k}": v for k, v in pooled.items()})
        row.update(fold_spread(per_fold))
        result.pooled.append(row)
    result.timings["total"] = time.perf_counter() - started
    write_csv_atomic(oof, out / "oof_scores.csv")
    write_csv_atomic(pd.DataFrame(result.fold_rows), out / "folds.csv")
    write_csv_atomic(pd.DataFrame(result.pooled), out / "results.csv")
    return result


def folds_table(pooled: Sequence[dict[str, Any]]):
    """Rows = model × loss: pooled out-of-fold AUC [95 % DeLong] and [95 % identity-group
    bootstrap], per-fold mean ± std and range."""
    from rich.table import Table

    folds = max((r["folds"] for r in pooled), default=0)
    table = Table(title=f"dfdetect benchmark: pooled out-of-fold video AUC over {folds} folds", header_style="bold")
    for name, justify in (("model", "left"), ("loss", "left"), ("videos (real/fake)", "right"),
                          ("pooled AUC [95 % DeLong]", "right"), ("[95 % by identity group]", "right"),
                          ("folds mean ± std", "right"), ("fold range", "right")):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for r in pooled:
        pooled_text = "n/a" if r["pooled_auc"] is None else f"{r['pooled_auc']:.3f} " + _bounds(r, "pooled_auc")
        group_text = _bounds(r, "pooled_auc_group") + f" ({r.get('groups', '?')} groups)"
        mean = "n/a" if r["fold_auc_mean"] is None else f"{r['fold_auc_mean']:.3f}" + (
            "" if r["fold_auc_std"] is None else f" ± {r['fold_auc_std']:.3f}")
        spread = "n/a" if r["fold_auc_min"] is None else f"{r['fold_auc_min']:.3f}–{r['fold_auc_max']:.3f}"
        table.add_row(r["model"], r["loss"], f"{r['videos']} ({r['n_real']}/{r['n_fake']})", pooled_text, group_text,
                      mean, spread)
    return table


def _bounds(row: dict[str, Any], prefix: str) -> str:
    lo, hi = row.get(f"{prefix}_lo"), row.get(f"{prefix}_hi")
    return "[n/a]" if lo is None or hi is None else f"[{lo:.3f}, {hi:.3f}]"
