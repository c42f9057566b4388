"""Out-of-fold bookkeeping for k-fold studies: pooled AUC with two intervals, per-fold and
per-method AUCs, seed ensembles, fold CSV subsets, and a results table updated in place.

An out-of-fold (OOF) table has one row per video: `video_id`, `label` (1 = fake), a score column
(P(fake)), `fold` (the fold whose model scored it) and, where known, `group` (the identity group).
`benchmark --data FOLDS` (folds.py) and experiments/ffpp/ build their numbers from these helpers.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from dfdetect.errors import DfdetectError

if TYPE_CHECKING:
    import pandas as pd


def pooled_auc(labels: Any, scores: Any, groups: Any | None = None, *, level: float = 0.95, n_boot: int = 2000,
               seed: int = 0) -> dict[str, float | None]:
    """The pooled AUC with DeLong's interval (`auc_lo`, `auc_hi`: videos as independent) and the
    identity-group cluster bootstrap's (`auc_group_lo`, `auc_group_hi`: whole groups resampled, as
    the videos of one identity are not independent). Without groups every video is its own group.
    None where undefined (one class; fewer than two groups of a class for the bootstrap)."""
    import numpy as np

    from dfdetect.evaluation.intervals import auc_with_ci, group_bootstrap_auc_ci

    y = np.asarray(labels, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    row: dict[str, float | None] = dict.fromkeys(("auc", "auc_lo", "auc_hi", "auc_group_lo", "auc_group_hi"))
    if not ((y == 0).any() and (y == 1).any()):
        return row
    ci = auc_with_ci(y, s, level)
    if ci is not None:
        row.update(auc=ci.auc, auc_lo=ci.lo, auc_hi=ci.hi)
    g = np.asarray(groups if groups is not None else np.arange(len(y))).astype(str)
    boot = group_bootstrap_auc_ci(y, s, g, n_boot=n_boot, level=level, seed=seed)
    if boot is not None:
        row.update(auc_group_lo=boot.lo, auc_group_hi=boot.hi)
        if row["auc"] is None:
            row["auc"] = boot.auc
    return row


def fold_aucs(oof: "pd.DataFrame", score: str = "score") -> list[float]:
    """The AUC of each fold's videos (folds in name order; folds with one class left out)."""
    from sklearn.metrics import roc_auc_score

    return [float(roc_auc_score(g["label"], g[score])) for _, g in oof.groupby("fold", sort=True)
            if g["label"].nunique() == 2]


def fold_spread(per_fold: Sequence[float]) -> dict[str, float | None]:
    """Mean, sample std, min and max of the per-fold AUCs (None where undefined)."""
    import numpy as np

    v = [a for a in per_fold if a is not None and not math.isnan(a)]
    return {"fold_auc_mean": float(np.mean(v)) if v else None,
            "fold_auc_std": float(np.std(v, ddof=1)) if len(v) > 1 else None,
            "fold_auc_min": min(v, default=None), "fold_auc_max": max(v, default=None)}


def summarise_oof(name: str, oof: "pd.DataFrame", score: str = "prob", methods: Sequence[str] = (),
                  seed: int = 0) -> dict[str, Any]:
    """One results row for a recipe's OOF table: pooled AUC with DeLong's and the group
    bootstrap's intervals, the folds' AUCs, minutes per fold (a `seconds` column, one value per
    fold) and, per manipulation in `methods`, the reals against that method's fakes (video ids
    that contain `__<method>__`, as FF++'s do)."""
    groups = oof["group"] if "group" in oof else None
    pooled = pooled_auc(oof["label"], oof[score], groups, seed=seed)
    per_fold = fold_aucs(oof, score)
    row: dict[str, Any] = {"recipe": name, "folds": ",".join(sorted(str(f).removeprefix("fold_") for f in oof["fold"].unique())),
                           "videos": len(oof), "fakes": int(oof["label"].sum()),
                           "groups": int(oof["group"].nunique()) if groups is not None else None, **pooled,
                           "fold_min": min(per_fold, default=None), "fold_max": max(per_fold, default=None),
                           "fold_aucs": " ".join(f"{a:.3f}" for a in per_fold)}
    if "seconds" in oof:
        row["minutes_per_fold"] = float(oof.groupby("fold")["seconds"].first().mean() / 60)
    real = oof["label"] == 0
    for method in methods:
        part = oof[real | oof["video_id"].astype(str).str.contains(f"__{method}__", regex=False)]
        if part["label"].nunique() == 2:
            m = pooled_auc(part["label"], part[score], seed=seed)
            bounds = "[n/a]" if m["auc_lo"] is None else f"[{m['auc_lo']:.3f}, {m['auc_hi']:.3f}]"
            row[f"auc_{method}"] = f"{m['auc']:.3f} {bounds}"
    return row


def seed_ensemble(runs: Sequence["pd.DataFrame"], score: str = "prob") -> "pd.DataFrame":
    """Every video scored by the mean of its score over the runs (what `eval --ensemble` does
    with the runs' models); rows matched by video_id. The runs must have scored the same videos."""
    import pandas as pd

    if not runs:
        raise DfdetectError("a seed ensemble needs at least one run")
    if any(set(r["video_id"]) != set(runs[0]["video_id"]) for r in runs):
        raise DfdetectError("the seed runs scored different videos; they must share the folds")
    agg: dict[str, Any] = {"label": ("label", "first"), score: (score, "mean"), "fold": ("fold", "first")}
    for extra, how in (("group", "first"), ("seconds", "sum")):
        if all(extra in r for r in runs):
            agg[extra] = (extra, how)
    return pd.concat(runs).groupby("video_id", sort=False).agg(**agg).reset_index()


def subset_csv(csv: Path, out: Path, keep: Callable[[Any], bool] = lambda row: True,
               faces_from: Path | None = None) -> Path:
    """Write the rows of `csv` that `keep(row)` accepts to `out`, faces_file made absolute. With
    `faces_from` (another extraction's manifest of the same videos) each video's crops come from
    there, so a fold keeps exactly its videos at another crop size."""
    from dfdetect.manifest import read_manifest, resolve_faces_path, write_csv_atomic

    df = read_manifest(csv)
    df["faces_file"] = [str(resolve_faces_path(csv, f)) for f in df["faces_file"]]
    if faces_from is not None:
        other = read_manifest(faces_from).set_index("video_id")
        missing = sorted(set(df["video_id"]) - set(other.index))
        if missing:
            raise DfdetectError(f"{faces_from}: no crops of {missing[0]} (and {len(missing) - 1} more) from {csv}")
        df["faces_file"] = [str(resolve_faces_path(faces_from, other.at[v, "faces_file"])) for v in df["video_id"]]
        if "size" in other:
            df["size"] = [other.at[v, "size"] for v in df["video_id"]]
    out.parent.mkdir(parents=True, exist_ok=True)
    write_csv_atomic(df[[bool(keep(r)) for r in df.itertuples()]], out)
    return out


def concat_csvs(csvs: Sequence[Path], out: Path) -> Path:
    """One CSV of the rows of several (e.g. a fold's train and val sets), faces_file made absolute."""
    import pandas as pd

    parts = [subset_csv(c, out.with_name(f"{out.stem}.part{i}.csv")) for i, c in enumerate(csvs)]
    pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False) for p in parts]).to_csv(out, index=False)
    for p in parts:
        p.unlink()
    return out


def update_results(table: "pd.DataFrame", out: Path, keys: Sequence[str] = ("recipe", "folds")) -> "pd.DataFrame":
    """Update `out` in place: rows of other keys (other recipes, other fold sets) are kept, so
    recipes run by separate commands, and a selection run beside its full run, share one table."""
    import pandas as pd

    if out.is_file():
        old = pd.read_csv(out, dtype={k: str for k in keys})
        if all(k in old for k in keys) and all(k in table for k in keys):
            new = set(zip(*(table[k].astype(str) for k in keys)))
            old = old[[k not in new for k in zip(*(old[k].astype(str) for k in keys))]]
            table = pd.concat([old, table], ignore_index=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    return table
