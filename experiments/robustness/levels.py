"""Issue 24's table: a recipe's fold models under every perturbation at levels 3 and 5, pooled out of fold.

    python experiments/robustness/levels.py WORK --recipes r0-cnn-sbi-160,r3-cnn-sbi-160-views --cache CACHE

WORK is run.py's --work (its folds{k}/fold_*/test.csv and runs/<recipe>/fold_*/train). Each fold
model runs `dfdetect robustness` (the library call) on its own test videos with every registered
perturbation at levels 3 and 5; the perturbed extractions are cached by content, so a second recipe
pays only the scoring. Per condition: the pooled out-of-fold AUC with DeLong's and the identity-
group bootstrap's 95 % intervals, and the balanced accuracy, TPR and FPR of the verdicts, each video
judged at its own fold model's stored threshold. Writes WORK/levels_<recipe>.csv (per video) and
WORK/levels.csv (per recipe and condition).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

LEVELS = "3,5"
# 8 frames per video, not the checkpoints' 32: 18 conditions x 142 videos at 32 frames would take
# hours on this 2-core machine. Both recipes are measured the same way; the clean row is re-measured
# at 8 frames too, so each row compares like with like.
FRAMES = 8


def fold_scores(recipe: str, work: Path, folds: int, cache: Path, workers: int) -> pd.DataFrame:
    from dfdetect.manifest import read_manifest
    from dfdetect.robustness.registry import all_perturbations
    from dfdetect.robustness.runner import RobustnessOptions, run_robustness
    from dfdetect.robustness import spec  # noqa: F401  (fills the registry)

    cached = work / f"levels_{recipe}.csv"
    if cached.is_file():
        return pd.read_csv(cached, keep_default_na=False)
    perturbations = ";".join(f"{p.name}:{LEVELS}" for p in all_perturbations())
    parts = []
    for fold in sorted((work / f"folds{folds}").glob("fold_*")):
        test = fold / "test.csv"
        result = run_robustness(work / "runs" / recipe / fold.name / "train", test,
                                RobustnessOptions(perturbations=perturbations, workers=workers, cache=cache, device="cpu",
                                                  frames=FRAMES))
        scores = result.video_scores()
        groups = read_manifest(test).set_index("video_id")["group"]
        scores["group"] = scores["video_id"].map(groups)
        scores["fold"], scores["threshold"] = fold.name, result.threshold
        parts.append(scores)
        print(f"{recipe} {fold.name}: {len(scores)} scores, threshold {result.threshold:.3f} ({result.threshold_source}), "
              f"{result.cache_misses} extracted in {result.seconds['extract']:.0f} s", flush=True)
    out = pd.concat(parts, ignore_index=True)
    out.to_csv(cached, index=False)
    return out


def summarise(recipe: str, scores: pd.DataFrame) -> list[dict]:
    from dfdetect.benchmarking.oof import summarise_oof

    rows = []
    for (name, level), part in scores.groupby(["perturbation", "level"], sort=False):
        row = summarise_oof(recipe, part, score="fake_prob")
        fake = part["fake_prob"] >= part["threshold"]
        tpr, fpr = float(fake[part["label"] == 1].mean()), float(fake[part["label"] == 0].mean())
        row.update(perturbation=name, level=int(level), balanced_accuracy=(tpr + 1 - fpr) / 2, tpr=tpr, fpr=fpr)
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("work", type=Path)
    ap.add_argument("--recipes", required=True)
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--cache", type=Path, required=True, help="the perturbed extractions' cache (shared by recipes)")
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args(argv)
    rows = []
    for recipe in [r for r in args.recipes.split(",") if r]:
        rows += summarise(recipe, fold_scores(recipe, args.work, args.folds, args.cache, args.workers))
        table = pd.DataFrame(rows)
        table.to_csv(args.work / "levels.csv", index=False)
        print(table[["recipe", "perturbation", "level", "videos", "auc", "auc_lo", "auc_hi", "auc_group_lo", "auc_group_hi",
                     "balanced_accuracy", "tpr", "fpr"]].round(3).to_string(index=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
