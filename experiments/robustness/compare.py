"""Paired comparison of two recipes' out-of-fold scores on the same videos: the AUC difference with
an identity-group bootstrap 95 % interval (whole groups resampled, the same draw for both recipes,
so the interval is of the difference itself, not of two separate AUCs).

    python experiments/robustness/compare.py results/oof_r4-dual-t16-sbi-160-views.csv \
        results/oof_r3-cnn-sbi-160-views.csv [--reps 2000] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score


def paired_difference(a: pd.DataFrame, b: pd.DataFrame, reps: int = 2000, seed: int = 0) -> dict:
    """AUC(a) - AUC(b) on the videos both scored, with the group bootstrap's 2.5 and 97.5 percentiles."""
    both = a.merge(b, on=["video_id", "label", "group"], suffixes=("_a", "_b"))
    y, sa, sb = both["label"].to_numpy(), both["prob_a"].to_numpy(), both["prob_b"].to_numpy()
    groups = both["group"].astype(str).to_numpy()
    names = np.unique(groups)
    members = [np.flatnonzero(groups == g) for g in names]
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(reps):
        rows = np.concatenate([members[i] for i in rng.integers(0, len(names), len(names))])
        if len(np.unique(y[rows])) == 2:  # a draw with one class has no AUC
            diffs.append(roc_auc_score(y[rows], sa[rows]) - roc_auc_score(y[rows], sb[rows]))
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    return {"videos": len(both), "groups": len(names), "diff": roc_auc_score(y, sa) - roc_auc_score(y, sb),
            "lo": float(lo), "hi": float(hi), "p_a_not_better": float(np.mean(np.asarray(diffs) <= 0))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("oof_a", type=Path)
    ap.add_argument("oof_b", type=Path)
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    for path in (args.oof_a, args.oof_b):
        if not path.is_file():
            ap.error(f"{path}: no such file; pass run.py's oof_<recipe>.csv (WORK/ or results/)")
    read = lambda p: pd.read_csv(p, dtype={"video_id": str, "group": str}, keep_default_na=False)  # noqa: E731
    a, b = read(args.oof_a), read(args.oof_b)
    for condition in a["condition"].unique():
        r = paired_difference(a[a["condition"] == condition], b[b["condition"] == condition], args.reps, args.seed)
        print(f"{condition}: AUC difference {r['diff']:+.3f} [{r['lo']:+.3f}, {r['hi']:+.3f}] "
              f"({r['videos']} videos, {r['groups']} groups; share of draws where A is not better: {r['p_a_not_better']:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
