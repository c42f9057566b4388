"""Round 5 on the FaceForensics++ sample: do degradation-trained recipes keep their verdicts under
H.264 CRF 40? Out-of-fold, identity-safe folds, every fold model scored on its test videos twice:
as they are (c23) and re-encoded with libx264 at CRF 40 (FF++'s c40 setting).

    python experiments/robustness/run.py DATA/manifest.csv DATA_C40/manifest.csv --work runs/robust
    python experiments/robustness/run.py ... --recipes r0-cnn-sbi-160,r1-cnn-sbi-160-degrade

DATA is `dfdetect extract FFPP_ROOT --dataset ff++ --frames 32 --size 160 --out DATA`; DATA_C40 the
same extraction of a copy of FFPP_ROOT whose every video was re-encoded (`reencode_c40.sh`). Each
recipe is a config file in recipes/ (what `dfdetect train --config` reads). A fold model is trained
once (killed runs resume); calibration and threshold come from the fold's validation videos
(`train` fits them), never from its test videos. Results: WORK/oof_<recipe>.csv (one row per video
and condition) and WORK/results.csv (one row per recipe and condition); this folder's
results/*.csv are the committed copies.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
CONDITIONS = {"clean": "test.csv", "c40": "test_c40.csv"}


def make_fold_sets(manifest: Path, manifest_c40: Path, work: Path, folds: int, seed: int, views: bool = False) -> list[Path]:
    """The identity-safe folds of earlier rounds (same k, validation share and seed), each with a
    test_c40.csv: the same test videos, crops from the re-encoded extraction.

    views=False: folds of the original videos only (a manifest's re-encoded views are left out).
    views=True (round 6): the same folds, whose train and val sets also carry each video's
    re-encoded views (`extract --reencode`); the test sets are the same videos either way."""
    from dfdetect.benchmarking.oof import subset_csv
    from dfdetect.splitting import make_folds

    splits = work / (f"folds{folds}_views" if views else f"folds{folds}")
    if not (splits / "folds.json").is_file():
        source = manifest
        if not views:  # the plain folds must not pick up views that the manifest may hold
            rows = pd.read_csv(manifest, dtype=str, keep_default_na=False)
            if "view" in rows.columns:
                source = manifest.with_name("manifest.originals.csv")
                rows[rows["view"] == ""].drop(columns=["view", "source_id"]).to_csv(source, index=False)
        make_folds([source], splits, folds=folds, val_size=0.2, seed=seed)
    fold_dirs = sorted(p for p in splits.glob("fold_*") if p.is_dir())
    for fold in fold_dirs:
        if not (fold / "test_c40.csv").is_file():
            subset_csv(fold / "test.csv", fold / "test_c40.csv", faces_from=manifest_c40)
    return fold_dirs


def originals_manifest(manifest: Path) -> Path:
    """MANIFEST without its re-encoded views: manifest.originals.csv beside it (and so beside the
    faces/ its rows point into); MANIFEST itself when it holds no views."""
    rows = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    if "view" not in rows.columns:
        return manifest
    out = manifest.with_name("manifest.originals.csv")
    rows[rows["view"] == ""].drop(columns=["view", "source_id"]).to_csv(out, index=False)
    return out


def read_recipe(recipe: str) -> tuple[dict, bool]:
    """A recipe's training options, and whether it trains on re-encoded views (its `views: true`,
    an experiment key that `train --config` does not know)."""
    from dfdetect.training.config_file import normalise, parse_file

    path = HERE / "recipes" / f"{recipe}.yaml"
    data = dict(parse_file(path) or {})
    views = bool(data.pop("views", False))
    return normalise(data, str(path)), views


def run_fold(recipe: str, fold: Path, work: Path, seed: int) -> pd.DataFrame:
    """Train `recipe` on one fold (or reuse the finished run) and score its test set in both conditions."""
    from dfdetect.benchmarking.experiment import run_experiment
    from dfdetect.manifest import read_manifest
    from dfdetect.training import TrainConfig

    run_dir = work / "runs" / recipe / fold.name
    cached = run_dir / "oof.csv"
    if cached.is_file():  # ids and groups as text, as the manifest has them (the group bootstrap orders by them)
        return pd.read_csv(cached, dtype={"video_id": str, "group": str}, keep_default_na=False)
    options, _ = read_recipe(recipe)
    config = TrainConfig(**{**options, "train_csv": str(fold / "train.csv"), "val_csv": str(fold / "val.csv"),
                            "out": str(run_dir / "train"), "device": "cpu", "seed": seed})
    tests = [fold / name for name in CONDITIONS.values()]
    result = run_experiment(config, tests, run_dir / "train", resume=True)
    calibration = json.loads((run_dir / "train" / "config.json").read_text()).get("calibration") or {}
    groups = read_manifest(fold / "test.csv").set_index("video_id")["group"]
    scores = result.scores()
    scores["condition"] = scores["set"].map({Path(v).stem: k for k, v in CONDITIONS.items()})
    scores["group"] = scores["video_id"].map(groups)
    scores["fold"] = fold.name
    scores["threshold"] = calibration.get("threshold", 0.5)
    scores["calibrated"] = bool(calibration)
    scores["train_minutes"] = result.train_s / 60
    scores = scores.rename(columns={"score": "prob"}).drop(columns=["set"])
    scores.to_csv(cached, index=False)
    return scores


def summarise(recipe: str, oof: pd.DataFrame) -> list[dict]:
    """Per condition: pooled OOF AUC (DeLong and group-bootstrap intervals) and the verdicts'
    balanced accuracy, TPR and FPR at each fold model's own stored threshold."""
    from dfdetect.benchmarking.oof import summarise_oof

    rows = []
    for condition, part in oof.groupby("condition", sort=False):
        row = summarise_oof(recipe, part, score="prob", methods=("Deepfakes", "Face2Face", "FaceSwap"))
        fake = part["prob"] >= part["threshold"]
        tpr = float(fake[part["label"] == 1].mean())
        fpr = float(fake[part["label"] == 0].mean())
        row.update(condition=condition, balanced_accuracy=(tpr + 1 - fpr) / 2, tpr=tpr, fpr=fpr,
                   thresholds=" ".join(f"{t:.3f}" for t in part.groupby("fold")["threshold"].first()),
                   mean_prob_fake=float(part.loc[part["label"] == 1, "prob"].mean()),
                   mean_prob_real=float(part.loc[part["label"] == 0, "prob"].mean()),
                   minutes_per_fold=float(part.groupby("fold")["train_minutes"].first().mean()))
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("manifest", type=Path, help="the c23 extraction's manifest.csv (with its re-encoded views for `views: true` recipes)")
    ap.add_argument("manifest_c40", type=Path, help="the CRF 40 copy's extraction manifest.csv (same video ids)")
    ap.add_argument("--work", type=Path, default=Path("runs/robust"))
    ap.add_argument("--recipes", default=",".join(sorted(p.stem for p in (HERE / "recipes").glob("*.yaml"))))
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0, help="the folds' seed (as in earlier rounds) and the training seed")
    args = ap.parse_args(argv)
    results = []
    for recipe in [r for r in args.recipes.split(",") if r]:
        folds = make_fold_sets(args.manifest, args.manifest_c40, args.work, args.folds, args.seed, views=read_recipe(recipe)[1])
        oof = pd.concat([run_fold(recipe, fold, args.work, args.seed) for fold in folds], ignore_index=True)
        oof.to_csv(args.work / f"oof_{recipe}.csv", index=False)
        results += summarise(recipe, oof)
        table = pd.DataFrame(results)
        table.to_csv(args.work / "results.csv", index=False)
        print(table[["recipe", "condition", "auc", "auc_lo", "auc_hi", "auc_group_lo", "auc_group_hi",
                     "balanced_accuracy", "tpr", "fpr"]].round(3).to_string(index=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
