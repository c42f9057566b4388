"""Real deepfakes: k-fold comparison of training recipes on a FaceForensics++ folder.

    python benchmarks/ffpp_folds.py /data/ffpp --work runs/ffpp                 # every recipe
    python benchmarks/ffpp_folds.py /data/ffpp --work runs/ffpp --recipes cnn-lite0-sbi,meso4
    python benchmarks/ffpp_folds.py /data/ffpp --work runs/ffpp --cross         # train on 2 methods, test the 3rd
    python benchmarks/ffpp_folds.py /data/ffpp --work runs/ffpp --external other/manifest.csv  # other sources

The pipeline is the tool's own: `extract --dataset ff++` (dlib, 32 frames, 160 px crops), `split
--folds K` (identity-safe groups), `train` per fold, the eval scorer on each fold's test set. Every
video is scored once, by the model that never saw its identity; the pooled out-of-fold video AUC
comes with its DeLong 95 % interval, plus the per-fold AUCs and the wall time. Finished folds are
kept (re-run to resume). Results go to WORK/results.csv and WORK/oof_<recipe>.csv.

The public sample used for the README (`MoSahil147/DeepFake-datasets`: 47 originals and 95 fakes,
c23) is small: read the interval, not the point estimate. A recipe picked by these numbers is tuned
on this sample; `--holdout-fold` keeps one fold out of the comparison to confirm the pick on.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

# name -> TrainConfig fields. Shared: 128 px input, 8 frames per clip, Adam with cosine decay.
COMMON = {"img_size": 128, "frames": 8, "epochs": 8, "lr": 3e-4, "schedule": "cosine", "batch_size": 8, "loss": "bce"}
LITE = {"model": "cnn", "backbone": "efficientnet_lite0"}
RECIPES: dict[str, dict] = {
    "cnn-lite0-sbi": {**LITE, "pretrained": True, "freeze": 3, "augment": ["flip", "color", "sbi"]},
    # the same at the crops' native 160 px (no downscale: c23 artefacts are high-frequency), 12 epochs
    "cnn-lite0-sbi-160": {**LITE, "pretrained": True, "freeze": 3, "augment": ["flip", "color", "sbi"],
                          "img_size": 160, "epochs": 12},
    "cnn-lite0-sbi-160-e24": {**LITE, "pretrained": True, "freeze": 3, "augment": ["flip", "color", "sbi"],
                              "img_size": 160, "epochs": 24},
    "cnn-lite0-sbi-160-trainval": {**LITE, "pretrained": True, "freeze": 3, "augment": ["flip", "color", "sbi"],
                                   "img_size": 160, "epochs": 12, "no_val": True},
    # generalisation: Self-Blended Images as in the paper, real videos only (every FF++ fake is unseen)
    "cnn-lite0-sbionly-160-e24": {**LITE, "pretrained": True, "freeze": 3, "augment": ["flip", "color", "sbi"],
                                  "img_size": 160, "epochs": 24, "no_val": True, "real_only": True},
    # second selection round (declared before it ran): longer still, and the validation groups train too
    "cnn-lite0-sbi-160-e32-trainval": {**LITE, "pretrained": True, "freeze": 3, "augment": ["flip", "color", "sbi"],
                                       "img_size": 160, "epochs": 32, "no_val": True},
    # also in the second round: crops extracted at 224 px (the faces of these 480p videos are ~130-200 px
    # at 1.3x, so 160 px crops shrink the larger ones), trained at 224; `crop` selects WORK/data_<crop>
    "cnn-lite0-sbi-224-e24": {**LITE, "pretrained": True, "freeze": 3, "augment": ["flip", "color", "sbi"],
                              "img_size": 224, "epochs": 24, "crop": 224},
    # Third round, declared 2026-11-29 before it ran: no new recipe, only fresh training seeds of this one.
    # Seeds 0 (0.876) and 1 (0.811) disagree, so one run cannot settle the target. Run --train-seed 2 and
    # --train-seed 3 (never run before), then judge two figures fixed now: (a) the mean of the four seeds'
    # pooled OOF AUCs (the recipe's level), and (b) the seed ensemble, every video scored by the mean of
    # the fold models' probabilities over seeds 0-3 (`--ensemble-seeds 0,1,2,3`). The target counts as
    # met only if (b) reaches 0.85 with its lower bound above 0.75 AND the ensemble of the two fresh seeds
    # alone (2,3), which no earlier choice saw, does too.
    # Fourth round, declared 2026-11-29 before it ran. The third showed the recipe's seed spread (0.805-0.876)
    # is as large as its distance to the target; the likely cause is which epoch best.ckpt keeps (picked on
    # ~20 validation videos) and the last batches' noise. One change, nothing else: a moving average of the
    # weights (`train --ema 0.999`, timm's warm-up, so about the last 3 epochs count by the end). Run
    # --train-seed 4 and --train-seed 5 (never run for any recipe). The target counts as met only if each
    # of the two runs, AND their seed ensemble, reaches a pooled OOF AUC of 0.85 with its lower bound above
    # 0.75. Also reported: the gap between the two seeds against the third round's (0.805-0.876).
    # Result: 0.841 and 0.848 (ensemble 0.852), so not met; README, "Fourth round".
    "cnn-lite0-sbi-224-e24-ema": {**LITE, "pretrained": True, "freeze": 3, "augment": ["flip", "color", "sbi"],
                                  "img_size": 224, "epochs": 24, "crop": 224, "ema": 0.999},
    # also in the second round: the larger Lite2 backbone (same recipe as e24), to test capacity against data
    "cnn-lite2-sbi-160-e24": {"model": "cnn", "backbone": "efficientnet_lite2", "pretrained": True, "freeze": 3,
                              "augment": ["flip", "color", "sbi"], "img_size": 160, "epochs": 24},
    "cnn-lite2-sbi-160": {"model": "cnn", "backbone": "efficientnet_lite2", "pretrained": True, "freeze": 3,
                          "augment": ["flip", "color", "sbi"], "img_size": 160, "epochs": 12},
    "dual-lite0-sbi-160": {"model": "dual", "backbone": "efficientnet_lite0", "hidden": 128, "layers": 1,
                           "pretrained": True, "freeze": 3, "augment": ["flip", "color", "sbi"], "loss": "auc",
                           "img_size": 160, "epochs": 12},
    "cnn-lite0-sbi-auc": {**LITE, "pretrained": True, "freeze": 3, "augment": ["flip", "color", "sbi"], "loss": "auc"},
    "cnn-lite0-xray": {**LITE, "pretrained": True, "freeze": 3, "augment": ["flip", "color", "xray"]},
    "cnn-lite0-noblend": {**LITE, "pretrained": True, "freeze": 3, "augment": ["flip", "color"]},
    "cnn-lite0-scratch-sbi": {**LITE, "pretrained": False, "augment": ["flip", "color", "sbi"]},
    "dual-lite0-sbi": {"model": "dual", "backbone": "efficientnet_lite0", "hidden": 128, "layers": 1,
                       "pretrained": True, "freeze": 3, "augment": ["flip", "color", "sbi"], "loss": "auc"},
    "dual-lite0-scratch-sbi": {"model": "dual", "backbone": "efficientnet_lite0", "hidden": 128, "layers": 1,
                               "pretrained": False, "augment": ["flip", "color", "sbi"], "loss": "auc"},
    "meso4": {"model": "meso4", "pretrained": False, "augment": ["flip", "color"], "lr": 1e-3, "epochs": 12},
    # Xception from scratch (no offline ImageNet weights) at the paper protocol's 64 px, 4 frames per clip:
    # at 96 px x 8 frames one fold costs ~40 CPU minutes here
    "xception": {"model": "xception", "pretrained": False, "augment": ["flip", "color"], "img_size": 64, "frames": 4},
}
METHODS = ("Deepfakes", "Face2Face", "FaceSwap")


def prepare(root: Path, work: Path, folds: int, seed: int) -> Path:
    """Extract (once) and write the fold folders (identity-safe groups)."""
    from dfdetect.splitting import make_folds

    manifest = extract_crops(root, work)
    splits = work / f"folds{folds}"
    if not (splits / "folds.json").is_file():
        make_folds([manifest], splits, folds=folds, val_size=0.2, seed=seed)
    return splits


def extract_crops(root: Path, work: Path, size: int = 160) -> Path:
    """Extract the folder's videos once at `size` px crops: WORK/data/manifest.csv for the folds'
    160 px, WORK/data_<size>/manifest.csv for recipes with their own `crop` size."""
    from dfdetect.extraction import ExtractOptions, gather_inputs, run_extraction

    data = work / ("data" if size == 160 else f"data_{size}")
    if not (data / "manifest.csv").is_file():
        inputs = gather_inputs([root], dataset="ff++", compression="c23")
        run_extraction(inputs, data, ExtractOptions(frames=32, size=size), workers=2)
    return data / "manifest.csv"


def _subset(csv: Path, out: Path, keep, faces_from: Path | None = None) -> Path:
    """Write the rows of `csv` that `keep(row)` accepts to `out`, faces_file made absolute; with
    `faces_from` (another extraction's manifest), each video's crops are taken from there, so the
    folds stay exactly the same videos."""
    from dfdetect.manifest import read_manifest, resolve_faces_path, write_csv_atomic

    df = read_manifest(csv)
    df["faces_file"] = [str(resolve_faces_path(csv, f)) for f in df["faces_file"]]
    if faces_from is not None:
        other = read_manifest(faces_from).set_index("video_id")
        df["faces_file"] = [str(resolve_faces_path(faces_from, other.at[v, "faces_file"])) for v in df["video_id"]]
        df["size"] = [other.at[v, "size"] for v in df["video_id"]]
    write_csv_atomic(df[[bool(keep(r)) for r in df.itertuples()]], out)
    return out


def run_fold(name: str, recipe: dict, fold: Path, run_dir: Path, held_out: str | None, seed: int,
             faces_from: Path | None = None) -> pd.DataFrame:
    """Train one recipe on one fold and score its test set; cached in run_dir/oof.csv."""
    from dfdetect.checkpoint import load_model
    from dfdetect.evaluation.evaluate import EvalOptions, evaluate_model
    from dfdetect.training import TrainConfig, resume_config, train

    cached = run_dir / "oof.csv"
    if cached.is_file():
        return pd.read_csv(cached)
    train_csv, val_csv, test_csv = fold / "train.csv", fold / "val.csv", fold / "test.csv"
    if held_out:  # cross-manipulation: the held-out method is absent from train/val, alone in test
        run_dir.mkdir(parents=True, exist_ok=True)
        seen = lambda r: r.method != held_out
        train_csv = _subset(train_csv, run_dir / "train.csv", seen)
        val_csv = _subset(val_csv, run_dir / "val.csv", seen)
        test_csv = _subset(test_csv, run_dir / "test.csv", lambda r: r.method in ("real", held_out))
    recipe = dict(recipe)
    recipe.pop("crop", None)
    if faces_from is not None:  # the same fold's videos, crops from another extraction
        run_dir.mkdir(parents=True, exist_ok=True)
        train_csv, val_csv, test_csv = (_subset(c, run_dir / f"{c.stem}.crops.csv", lambda r: True, faces_from)
                                        for c in (train_csv, val_csv, test_csv))
    no_val = recipe.pop("no_val", False)
    if recipe.pop("real_only", False):  # SBI's protocol: no fake video trains; the blends are the only fakes
        run_dir.mkdir(parents=True, exist_ok=True)
        train_csv = _subset(train_csv, run_dir / "train_real.csv", lambda r: str(r.label) == "0")
        val_csv = _subset(val_csv, run_dir / "val_real.csv", lambda r: str(r.label) == "0")
    if no_val:  # the fold's validation groups train too; the fixed last epoch is scored (no selection)
        run_dir.mkdir(parents=True, exist_ok=True)
        parts = [_subset(c, run_dir / f"{c.stem}.part.csv", lambda r: True) for c in (train_csv, val_csv)]
        train_csv, val_csv = run_dir / "trainval.csv", None
        pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False) for p in parts]).to_csv(train_csv, index=False)
    started = time.perf_counter()
    config = TrainConfig(train_csv=str(train_csv), val_csv=str(val_csv) if val_csv else None, out=str(run_dir / "train"),
                         device="cpu", workers=2, seed=seed, **{**COMMON, **recipe})
    metrics = run_dir / "train" / "metrics.csv"
    done = metrics.is_file() and len(pd.read_csv(metrics)) >= config.epochs
    if not done:  # a killed fold resumes from its last.ckpt
        train(resume_config(run_dir / "train") if (run_dir / "train" / "last.ckpt").is_file() else config)
    model, cfg = load_model(run_dir / "train" / ("last.ckpt" if no_val else "best.ckpt"), device="cpu")
    report = evaluate_model(model, cfg, [test_csv], EvalOptions(device="cpu"))
    result = report.sets[0]
    df = pd.DataFrame({"video_id": result.video_ids, "label": result.labels, "prob": result.video_scores,
                       "fold": fold.name, "seconds": time.perf_counter() - started})
    df.to_csv(cached, index=False)
    return df


def summarise(name: str, oof: pd.DataFrame) -> dict:
    from sklearn.metrics import roc_auc_score

    from dfdetect.evaluation.intervals import auc_with_ci

    ci = auc_with_ci(oof["label"], oof["prob"])
    per_fold = [roc_auc_score(g["label"], g["prob"]) for _, g in oof.groupby("fold") if g["label"].nunique() == 2]
    seconds = oof.groupby("fold")["seconds"].first()
    folds = ",".join(sorted(str(f).removeprefix("fold_") for f in oof["fold"].unique()))
    by_method = {}  # reals against one manipulation at a time (video ids hold the FF++ folder names)
    real = oof["label"] == 0
    for method in METHODS:
        part = oof[real | oof["video_id"].str.contains(f"__{method}__", regex=False)]
        if part["label"].nunique() == 2 and (part["label"] == 1).any():
            m = auc_with_ci(part["label"], part["prob"])
            by_method[f"auc_{method}"] = f"{m.auc:.3f} [{m.lo:.3f}, {m.hi:.3f}]"
    return {"recipe": name, "folds": folds, "videos": len(oof), "fakes": int(oof["label"].sum()), "auc": ci.auc, "auc_lo": ci.lo,
            "auc_hi": ci.hi, "fold_min": min(per_fold), "fold_max": max(per_fold),
            "fold_aucs": " ".join(f"{a:.3f}" for a in per_fold), "minutes_per_fold": seconds.mean() / 60, **by_method}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path, help="FaceForensics++ root (original_sequences/, manipulated_sequences/)")
    ap.add_argument("--work", type=Path, default=Path("runs/ffpp"))
    ap.add_argument("--recipes", default=",".join(RECIPES), help=f"comma-separated, from {', '.join(RECIPES)}")
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--holdout-fold", type=int, default=None,
                    help="leave this fold out of the pooled result (confirm a pick on it afterwards)")
    ap.add_argument("--only-fold", type=int, default=None, help="run just this fold (e.g. the held-out one)")
    ap.add_argument("--cross", action="store_true", help="cross-manipulation: train without one method, test on it")
    ap.add_argument("--external", type=Path, default=None, metavar="MANIFEST",
                    help="train nothing: score a labelled manifest from other sources with every finished fold model")
    ap.add_argument("--seed", type=int, default=0, help="the folds' seed (when first made) and the training seed")
    ap.add_argument("--train-seed", type=int, default=None,
                    help="repeat a recipe with another training seed on the same folds (runs/<recipe>-seed<N>)")
    ap.add_argument("--ensemble-seeds", default=None, metavar="0,1,2",
                    help="train nothing: per-seed results, their mean, and the seed ensemble (mean probability "
                         "per video) of finished seed runs; seed 0 is the recipe's first run")
    ap.add_argument("--report-only", action="store_true",
                    help="train nothing: summarise the finished WORK/oof_*.csv of the chosen recipes")
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(2)
    names = [n.strip() for n in args.recipes.split(",") if n.strip()]
    unknown = [n for n in names if n not in RECIPES]
    if unknown:
        ap.error(f"unknown recipe {unknown[0]}; choose from {', '.join(RECIPES)}")
    if args.ensemble_seeds:
        return report_seed_ensembles(args.work, names, [int(x) for x in args.ensemble_seeds.split(",")])
    if args.report_only:
        return report(args.work, names, args.cross, args.train_seed)
    if args.external:
        if not args.external.is_file():
            ap.error(f"--external {args.external}: no such file; pass the manifest.csv written by `dfdetect extract`")
        return score_external(args.work, names, args.external, args.train_seed)
    splits = prepare(args.root, args.work, args.folds, args.seed)
    fold_dirs = sorted(splits.glob("fold_*"))
    if args.only_fold is not None:
        fold_dirs = [fold_dirs[args.only_fold]]
    elif args.holdout_fold is not None:
        fold_dirs = [f for i, f in enumerate(fold_dirs) if i != args.holdout_fold]
    rows = []
    for name in names:
        for held_out in (METHODS if args.cross else (None,)):
            tag, label = run_names(name, held_out, args.train_seed)
            crop = RECIPES[name].get("crop")
            faces_from = extract_crops(args.root, args.work, crop) if crop else None
            seed = args.seed if args.train_seed is None else args.train_seed
            oof = pd.concat([run_fold(name, RECIPES[name], f, args.work / "runs" / tag / f.name, held_out, seed,
                                      faces_from) for f in fold_dirs])
            partial = len(fold_dirs) < len(list(splits.glob("fold_*")))  # a selection or confirmation run
            suffix = "_folds" + "".join(f.name.removeprefix("fold_") for f in fold_dirs) if partial else ""
            oof.to_csv(args.work / f"oof_{tag}{suffix}.csv", index=False)
            rows.append(summarise(label, oof))
            r = rows[-1]
            print(f"{label}: pooled OOF video AUC {r['auc']:.3f} [{r['auc_lo']:.3f}, {r['auc_hi']:.3f}] "
                  f"folds {r['fold_aucs']} ({r['videos']} videos, {r['minutes_per_fold']:.1f} min/fold)", flush=True)
    table = pd.DataFrame(rows)
    out = args.work / ("results_cross.csv" if args.cross else "results.csv")
    write_results(table, out)
    print(table.to_markdown(index=False, floatfmt=".3f") if _has_tabulate() else table.to_string(index=False))
    print(f"wrote {out}")
    return 0


def run_names(name: str, held_out: str | None, train_seed: int | None) -> tuple[str, str]:
    """(folder/file tag, table label) of one run: cross-manipulation and seed repeats get their own."""
    repeat = f"-seed{train_seed}" if train_seed is not None else ""
    if held_out:
        return f"{name}-without-{held_out}{repeat}", f"{name} (unseen {held_out}){repeat}"
    return f"{name}{repeat}", f"{name}{repeat}"


def report(work: Path, names: list[str], cross: bool, train_seed: int | None = None) -> int:
    """Summarise finished runs (several recipes may have been run by separate processes)."""
    rows = []
    for name in names:
        for held_out in (METHODS if cross else (None,)):
            tag, label = run_names(name, held_out, train_seed)
            for path in sorted(work.glob(f"oof_{tag}.csv")) + sorted(work.glob(f"oof_{tag}_folds*.csv")):
                rows.append(summarise(label, pd.read_csv(path)))
    table = pd.DataFrame(rows)
    out = work / ("results_cross.csv" if cross else "results.csv")
    write_results(table, out)
    print(table.to_string(index=False))
    print(f"wrote {out}")
    return 0


def report_seed_ensembles(work: Path, names: list[str], seeds: list[int]) -> int:
    """Each seed's pooled OOF AUC, their mean, and the seed ensemble: every video scored by the mean
    of its fold models' probabilities over the seeds (what `eval --ensemble` computes)."""
    rows = []
    for name in names:
        runs, tags = [], []
        for seed in seeds:
            tag, label = run_names(name, None, seed or None)
            tags.append(tag)
            path = work / f"oof_{tag}.csv"
            if not path.is_file():
                how = f" --train-seed {seed}" if seed else ""
                raise SystemExit(f"{path}: missing; run --recipes {name}{how} first")
            runs.append(pd.read_csv(path))
            rows.append(summarise(label, runs[-1]))
        if any(set(r["video_id"]) != set(runs[0]["video_id"]) for r in runs):
            raise SystemExit(f"{name}: the seed runs scored different videos; they must share the folds")
        aucs = [r["auc"] for r in rows[-len(seeds):]]
        rows.append({"recipe": f"{name} mean of seeds {','.join(map(str, seeds))}", "auc": sum(aucs) / len(aucs),
                     "auc_lo": min(aucs), "auc_hi": max(aucs)})  # here lo/hi are the seeds' range, not a CI
        merged = pd.concat(runs).groupby("video_id", sort=False).agg(
            label=("label", "first"), prob=("prob", "mean"), fold=("fold", "first"), seconds=("seconds", "sum"))
        merged = merged.reset_index()
        tag = f"{name}-ensemble-seeds{''.join(map(str, seeds))}"
        merged.to_csv(work / f"oof_{tag}.csv", index=False)
        rows.append(summarise(f"{name} ensemble of seeds {','.join(map(str, seeds))}", merged))
        external = [work / f"external_{t}.csv" for t in tags]
        if all(p.is_file() for p in external):  # the `--external` check, for the ensemble
            rows[-1].update(_external_ensemble([pd.read_csv(p) for p in external]))
    table = pd.DataFrame(rows)
    out = work / "results_ensembles.csv"
    write_results(table, out)
    print(table.to_markdown(index=False, floatfmt=".3f") if _has_tabulate() else table.to_string(index=False))
    print(f"wrote {out} (for the 'mean of seeds' rows auc_lo/auc_hi are the seeds' min and max)")
    return 0


def _external_ensemble(per_seed: list[pd.DataFrame]) -> dict:
    """AUC on the external clips of each fold's seed ensemble (mean over seeds), and of the mean of all."""
    from sklearn.metrics import roc_auc_score

    df = pd.concat(per_seed)
    by_fold = df.groupby(["fold", "video_id"]).agg(label=("label", "first"), prob=("prob", "mean")).reset_index()
    per_model = [roc_auc_score(g["label"], g["prob"]) for _, g in by_fold.groupby("fold")]
    mean = df.groupby("video_id").agg(label=("label", "first"), prob=("prob", "mean"))
    return {"external_auc_per_fold_ensemble": " ".join(f"{a:.3f}" for a in per_model),
            "external_auc_of_mean_score": roc_auc_score(mean["label"], mean["prob"])}


def score_external(work: Path, names: list[str], manifest: Path, train_seed: int | None = None) -> int:
    """Generalisation check: each recipe's fold models (four models trained on different FF++ groups)
    score videos from other sources. With a handful of clips one model's AUC is noise, so the spread
    over the fold models and the AUC of their mean score are reported."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    from dfdetect.checkpoint import load_model
    from dfdetect.evaluation.evaluate import EvalOptions, evaluate_model

    rows = []
    for name in names:
        scores = []
        tag, label = run_names(name, None, train_seed)
        for fold in sorted((work / "runs" / tag).glob("fold_*")):
            ckpt = fold / "train" / ("last.ckpt" if RECIPES[name].get("no_val") else "best.ckpt")
            if not (fold / "oof.csv").is_file() or not ckpt.is_file():
                continue
            model, cfg = load_model(ckpt, device="cpu")
            result = evaluate_model(model, cfg, [manifest], EvalOptions(device="cpu")).sets[0]
            scores.append(pd.DataFrame({"video_id": result.video_ids, "label": result.labels,
                                        "prob": result.video_scores, "fold": fold.name}))
        if not scores:
            continue
        df = pd.concat(scores)
        df.to_csv(work / f"external_{tag}.csv", index=False)
        per_model = [roc_auc_score(g["label"], g["prob"]) for _, g in df.groupby("fold")]
        mean = df.groupby("video_id").agg(label=("label", "first"), prob=("prob", "mean"))
        rows.append({"recipe": label, "videos": len(mean), "fakes": int(mean["label"].sum()), "models": len(per_model),
                     "auc_per_model_mean": float(np.mean(per_model)), "auc_per_model_min": min(per_model),
                     "auc_per_model_max": max(per_model), "auc_of_mean_score": roc_auc_score(mean["label"], mean["prob"])})
    table = pd.DataFrame(rows)
    if table.empty:
        print(f"no finished fold models under {work / 'runs'} for {', '.join(names)}; run the recipes first")
        return 1
    write_results(table, work / "results_external.csv", keys=("recipe",))
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"wrote {work / 'results_external.csv'}")
    return 0


def write_results(table: pd.DataFrame, out: Path, keys: tuple[str, ...] = ("recipe", "folds")) -> None:
    """Update `out` in place: rows of other recipes (or other fold sets) are kept, so recipes run
    by separate commands, and a selection run beside its full run, share one table."""
    if out.is_file():
        old = pd.read_csv(out, dtype={"folds": str})
        if all(k in old for k in keys):
            new = set(zip(*(table[k].astype(str) for k in keys)))
            old = old[[k not in new for k in zip(*(old[k].astype(str) for k in keys))]]
            table = pd.concat([old, table], ignore_index=True)
    table.to_csv(out, index=False)


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
