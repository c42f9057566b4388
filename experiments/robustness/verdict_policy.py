"""How should the shipped model turn scores into verdicts? Three policies on r0's fold models.

    python experiments/robustness/verdict_policy.py --work runs/robust

WORK is run.py's work folder after round 6: runs/r0-cnn-sbi-160/fold_k/train/best.ckpt (the fold
models), folds4/fold_k (their train, val and test sets) and folds4_views/fold_k/val.csv (the same
validation videos with their CRF 32 and CRF 40 views). Every fold model scores its validation and
test videos *uncalibrated*; then, per fold:

- U:  raw logit minus the fold's training prior log-odds (what build_default_model.py does to the
      bundled file), threshold 0.5;
- C:  fit_calibration on the validation videos (what `train` records; checked against it);
- CV: fit_calibration on the validation videos and their views.

Test videos are pooled out of fold per policy and condition (clean, c40). The rule that picks one is
declared in README.md ("How the shipped model turns scores into verdicts"). Writes
WORK/verdict_policy.csv and WORK/verdict_policy_scores.csv; results/ holds the committed copies.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

RECIPE = "r0-cnn-sbi-160"
POLICIES = ("U", "C", "CV")
CONDITIONS = {"clean": "test.csv", "c40": "test_c40.csv"}


def raw_scores(model, config: dict, csv: Path) -> pd.DataFrame:
    """video_id, label, view and the uncalibrated video probability of every scorable row of csv."""
    from dfdetect.training.calibrate import score_validation

    rows = pd.read_csv(csv, dtype=str, keep_default_na=False)
    labels, probs = score_validation(model, config, csv, "cpu")
    if len(labels) != len(rows):  # an empty stack is left out by score_validation; none is expected here
        raise SystemExit(f"{csv}: {len(rows) - len(labels)} unscorable row(s); this script expects none")
    view = rows["view"] if "view" in rows else ""
    return pd.DataFrame({"video_id": rows["video_id"], "group": rows["group"], "label": labels, "view": view,
                         "raw": probs})


def prior_log_odds(train_csv: Path, sbi: bool = True) -> float:
    """log(fakes / reals) of the items a fold model trained on (one SBI fake per real clip)."""
    labels = pd.read_csv(train_csv, dtype=str)["label"]
    n_real, n_fake = int((labels == "0").sum()), int((labels == "1").sum())
    return math.log((n_fake + (n_real if sbi else 0)) / n_real)


def fold_policies(work: Path, fold: str) -> pd.DataFrame:
    """One row per test video, condition and policy: the policy's probability and threshold."""
    from dfdetect.checkpoint import build_from_checkpoint, read_checkpoint
    from dfdetect.evaluation.calibration import calibration_of, fit_calibration, logit, sigmoid

    best = work / "runs" / RECIPE / fold / "train" / "best.ckpt"
    model, config = build_from_checkpoint(read_checkpoint(best), best)
    model.eval()
    val = raw_scores(model, config, work / "folds4_views" / fold / "val.csv")
    clean_val = val[val["view"] == ""]
    fitted = {"C": fit_calibration(clean_val["label"], clean_val["raw"], "balanced"),
              "CV": fit_calibration(val["label"], val["raw"], "balanced")}
    stored = calibration_of(config)
    if stored is None or abs(stored.threshold - fitted["C"].threshold) > 1e-3:
        raise SystemExit(f"{best}: refitting C gave threshold {fitted['C'].threshold:.4f}, the run stored "
                         f"{getattr(stored, 'threshold', None)}; the fold models or sets changed")
    shift = prior_log_odds(work / "folds4" / fold / "train.csv")
    out = []
    for condition, name in CONDITIONS.items():
        test = raw_scores(model, config, work / "folds4" / fold / name)
        for policy in POLICIES:
            if policy == "U":
                prob, threshold = sigmoid(logit(test["raw"].to_numpy()) - shift), 0.5
            else:
                prob, threshold = fitted[policy].apply(test["raw"].to_numpy()), fitted[policy].threshold
            out.append(pd.DataFrame({"video_id": test["video_id"], "group": test["group"], "label": test["label"], "fold": fold,
                                     "condition": condition, "policy": policy, "raw": test["raw"],
                                     "prob": prob, "threshold": threshold,
                                     "method": "prior" if policy == "U" else fitted[policy].method,
                                     "n_val": len(val) if policy == "CV" else len(clean_val)}))
    return pd.concat(out, ignore_index=True)


def summarise(scores: pd.DataFrame) -> pd.DataFrame:
    from sklearn.metrics import roc_auc_score

    from dfdetect.evaluation.calibration import brier, expected_calibration_error

    rows = []
    for (policy, condition), part in scores.groupby(["policy", "condition"], sort=False):
        y, p = part["label"].to_numpy(), part["prob"].to_numpy()
        called = p >= part["threshold"].to_numpy()
        tpr, fpr = float(called[y == 1].mean()), float(called[y == 0].mean())
        rows.append({"policy": policy, "condition": condition, "videos": len(part),
                     "pooled_auc": roc_auc_score(y, p), "balanced_accuracy": (1 + tpr - fpr) / 2,
                     "tpr": tpr, "fpr": fpr, "brier": brier(y, p), "ece": expected_calibration_error(y, p),
                     "mean_prob_fake": float(p[y == 1].mean()), "mean_prob_real": float(p[y == 0].mean()),
                     "thresholds": " ".join(f"{t:.3f}" for t in part.groupby("fold")["threshold"].first())})
    table = pd.DataFrame(rows)
    means = table.groupby("policy", sort=False)["balanced_accuracy"].mean()
    table["mean_ba_clean_c40"] = table["policy"].map(means)
    return table


def group_counts(part: pd.DataFrame, groups: list[str]) -> np.ndarray:
    """(G, 4) per identity group: fakes called fake, fakes, reals called fake, reals."""
    called = (part["prob"] >= part["threshold"]).astype(int)
    fake = part["label"].astype(int)
    table = pd.DataFrame({"group": part["group"].astype(str), "tp": called * fake, "p": fake,
                          "fp": called * (1 - fake), "n": 1 - fake}).groupby("group").sum()
    return table.reindex(groups, fill_value=0)[["tp", "p", "fp", "n"]].to_numpy(dtype=float)


def balanced_accuracy_intervals(scores: pd.DataFrame, reps: int = 2000, seed: int = 0) -> pd.DataFrame:
    """95 % identity-group bootstrap intervals of each policy's balanced accuracy and of its paired
    difference to U (the same resampled groups for every policy), per condition."""
    rng = np.random.default_rng(seed)
    rows = []
    for condition, part in scores.groupby("condition", sort=False):
        groups = sorted(part["group"].astype(str).unique())
        counts = {p: group_counts(part[part["policy"] == p], groups) for p in POLICIES}
        draws = rng.integers(0, len(groups), size=(reps, len(groups)))
        ba = {}
        for policy, c in counts.items():
            tp, pos, fp, neg = (c[:, k][draws].sum(axis=1) for k in range(4))
            with np.errstate(invalid="ignore", divide="ignore"):
                ba[policy] = (1 + tp / pos - fp / neg) / 2
        for policy in POLICIES:
            lo, hi = np.nanpercentile(ba[policy], [2.5, 97.5])
            dlo, dhi = np.nanpercentile(ba[policy] - ba["U"], [2.5, 97.5])
            rows.append({"policy": policy, "condition": condition, "ba_lo": lo, "ba_hi": hi,
                         "ba_minus_u_lo": dlo, "ba_minus_u_hi": dhi})
    return pd.DataFrame(rows)


def choose(table: pd.DataFrame, margin: float = 0.02) -> str:
    """The declared rule: the highest mean balanced accuracy, unless a simpler policy is within margin
    of it (then the simplest such)."""
    means = table.groupby("policy", sort=False)["balanced_accuracy"].mean()
    best = max(means[p] for p in POLICIES)
    return next(p for p in POLICIES if means[p] >= best - margin)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True)
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(2)
    folds = sorted(p.name for p in (args.work / "folds4").glob("fold_*"))
    scores = pd.concat([fold_policies(args.work, fold) for fold in folds], ignore_index=True)
    scores.to_csv(args.work / "verdict_policy_scores.csv", index=False)
    table = summarise(scores).merge(balanced_accuracy_intervals(scores), on=["policy", "condition"])
    table.to_csv(args.work / "verdict_policy.csv", index=False)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.round(3).to_string(index=False))
    print(json.dumps({"chosen": choose(table)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
