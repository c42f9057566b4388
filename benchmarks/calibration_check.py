"""Does the stored calibration help on held-out data? Raw scores at 0.5 against calibrated ones at
the stored threshold, on each RUN's own test set and pooled.

    python benchmarks/calibration_check.py RUN_A TEST_A.csv [RUN_B TEST_B.csv ...] [--prior 1:100] [--out FILE.csv]

Each run is scored once with its raw probabilities (the scorer with calibrated=False, the one eval
uses); the calibrated ones are the stored map applied to them, which is what the scorer does. Rows:
brier, ece, balanced accuracy, tpr, fpr and precision at the prior, raw at 0.5 (the baseline, as an
uncalibrated checkpoint behaves) and calibrated at the stored threshold. AUC is the same for both
(the map is monotone) and is printed once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def score(run: str, test_csv: str) -> tuple[np.ndarray, np.ndarray, object]:
    from dfdetect.checkpoint import load_model
    from dfdetect.evaluation.calibration import calibration_of
    from dfdetect.manifest import parse_label, read_manifest, resolve_faces_path
    from dfdetect.scoring.inference import StackScorer

    model, config = load_model(run)
    calibration = calibration_of(config)
    if calibration is None:
        raise SystemExit(f"{run}: no calibration stored; train it with --val first")
    df = read_manifest(test_csv)
    df = df[(df["status"] == "ok") & (df["label"] != "")]
    stacks = [(i, np.load(resolve_faces_path(test_csv, f), mmap_mode="r")) for i, f in enumerate(df["faces_file"])]
    scorer = StackScorer(model, config, "cpu", calibrated=False)
    raw = np.array([p for _, p, _ in scorer.score_many(stacks)])
    labels = np.array([parse_label(v) for v in df["label"]])
    keep = np.isfinite(raw)
    return labels[keep], raw[keep], calibration


def rows_for(name: str, y: np.ndarray, raw: np.ndarray, cal: np.ndarray, threshold: np.ndarray, prior: float) -> list[dict]:
    from sklearn.metrics import roc_auc_score

    from dfdetect.evaluation.calibration import calibration_metrics

    out = []
    for kind, p, t in (("raw @ 0.5", raw, np.full_like(raw, 0.5)), ("calibrated @ stored", cal, threshold)):
        called = p >= t
        tpr, fpr = called[y == 1].mean(), called[y == 0].mean()
        m = calibration_metrics(y, p, float(np.mean(t)), prior)
        m["precision_at_prior"] = tpr * prior / (tpr * prior + fpr * (1 - prior)) if tpr + fpr else 0.0
        out.append({"set": name, "scores": kind, "n_real": int((y == 0).sum()), "n_fake": int(y.sum()),
                    "auc": roc_auc_score(y, p), "brier": m["brier"], "ece": m["ece"],
                    "balanced_acc": (tpr + 1 - fpr) / 2, "tpr": tpr, "fpr": fpr,
                    "precision_at_prior": m["precision_at_prior"], "threshold": float(np.mean(t))})
    return out


def main() -> None:
    from dfdetect.evaluation.calibration import prior_from_ratio

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("pairs", nargs="+", help="RUN TEST.csv pairs")
    ap.add_argument("--prior", default="1:100")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if len(args.pairs) % 2:
        ap.error("give RUN TEST.csv pairs")
    prior = prior_from_ratio(args.prior)
    rows, pooled = [], {"y": [], "raw": [], "cal": [], "t": []}
    for run, test in zip(args.pairs[::2], args.pairs[1::2]):
        y, raw, calibration = score(run, test)
        cal = calibration.apply(raw)
        t = np.full_like(cal, calibration.threshold)
        rows += rows_for(f"{run} ({calibration.method}, T={calibration.temperature:.3g})", y, raw, cal, t, prior)
        for k, v in (("y", y), ("raw", raw), ("cal", cal), ("t", t)):
            pooled[k].append(v)
    if len(args.pairs) > 2:
        # pooled out-of-fold: each video judged by its own fold's calibration and threshold
        rows += rows_for("pooled", *(np.concatenate(pooled[k]) for k in ("y", "raw", "cal", "t")), prior)
    df = pd.DataFrame(rows)
    pd.set_option("display.width", 250)
    print(df.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    if args.out:
        df.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
