"""Real deepfakes: k-fold comparison of training recipes on a FaceForensics++ folder.

    python experiments/ffpp/run.py /data/ffpp --work runs/ffpp --recipes cnn-lite0-sbi-224-e24
    python experiments/ffpp/run.py /data/ffpp --work runs/ffpp --recipes A,B --holdout-fold 3   # choose on folds 0-2
    python experiments/ffpp/run.py /data/ffpp --work runs/ffpp --recipes A --train-seed 2        # a seed repeat
    python experiments/ffpp/run.py /data/ffpp --work runs/ffpp --recipes A --ensemble-seeds 0,1,2,3
    python experiments/ffpp/run.py /data/ffpp --work runs/ffpp --cross --only-fold 0             # unseen methods
    python experiments/ffpp/run.py /data/ffpp --work runs/ffpp --external other/manifest.csv     # other sources

A recipe is a training config file, recipes/<name>.yaml (`dfdetect train --config` reads the same
file); data_options.yaml says where a recipe's fold data differs (train+val, reals only, 224 px
crops). The pipeline is the library's: `extract --dataset ff++` (dlib, 32 frames, 160 px crops),
`split --folds K` (identity-safe groups), then per fold `run_experiment` (train, score the fold's
test set with the eval scorer). Every video is scored once, by a model that never saw its
identity; the pooled out-of-fold AUC comes with DeLong's interval and an identity-group bootstrap
interval (dfdetect.benchmarking.oof). Finished folds are cached in WORK/runs/<run>/fold_i/oof.csv
and a killed fold resumes from its last.ckpt. Results: WORK/results*.csv and WORK/oof_<run>.csv.
The rounds run so far, and the rules declared before each, are in README.md beside this file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
METHODS = ("Deepfakes", "Face2Face", "FaceSwap")
DEFAULT_CROP = 160


def recipe_names(recipes_dir: Path) -> list[str]:
    return sorted(p.stem for p in recipes_dir.glob("*.yaml"))


def load_recipe(name: str, recipes_dir: Path, data_options: Path | None) -> tuple[dict, dict]:
    """(training options from recipes/<name>.yaml, data options from data_options.yaml)."""
    import yaml

    from dfdetect.training.config_file import read_train_config

    options = yaml.safe_load(data_options.read_text()) if data_options and data_options.is_file() else None
    return read_train_config(recipes_dir / f"{name}.yaml"), dict((options or {}).get(name) or {})


def prepare(root: Path, work: Path, folds: int, seed: int) -> Path:
    """Extract (once) and write the fold folders (identity-safe groups)."""
    from dfdetect.splitting import make_folds

    manifest = extract_crops(root, work, DEFAULT_CROP)
    splits = work / f"folds{folds}"
    if not (splits / "folds.json").is_file():
        make_folds([manifest], splits, folds=folds, val_size=0.2, seed=seed)
    return splits


def extract_crops(root: Path, work: Path, size: int) -> Path:
    """WORK/data/manifest.csv at 160 px (the folds' crops), WORK/data_<size>/ for another `crop`."""
    from dfdetect.extraction import ExtractOptions, gather_inputs, run_extraction

    data = work / ("data" if size == DEFAULT_CROP else f"data_{size}")
    if not (data / "manifest.csv").is_file():
        inputs = gather_inputs([root], dataset="ff++", compression="c23")
        run_extraction(inputs, data, ExtractOptions(frames=32, size=size), workers=2)
    return data / "manifest.csv"


def fold_csvs(fold: Path, run_dir: Path, data: dict, held_out: str | None, faces_from: Path | None):
    """(train, val or None, test) CSVs of one fold as the recipe's data options ask."""
    from dfdetect.benchmarking.oof import concat_csvs, subset_csv

    train, val, test = fold / "train.csv", fold / "val.csv", fold / "test.csv"
    if held_out:  # cross-manipulation: the held-out method is absent from train/val, alone in test
        train = subset_csv(train, run_dir / "train.csv", lambda r: r.method != held_out)
        val = subset_csv(val, run_dir / "val.csv", lambda r: r.method != held_out)
        test = subset_csv(test, run_dir / "test.csv", lambda r: r.method in ("real", held_out))
    if faces_from is not None:  # the same fold's videos, crops from another extraction
        train, val, test = (subset_csv(c, run_dir / f"{c.stem}.crops.csv", faces_from=faces_from) for c in (train, val, test))
    if data.get("real_only"):  # SBI's protocol: no fake video trains; the blends are the only fakes
        train = subset_csv(train, run_dir / "train_real.csv", lambda r: str(r.label) == "0")
        val = subset_csv(val, run_dir / "val_real.csv", lambda r: str(r.label) == "0")
    if data.get("trainval"):  # the validation groups train too; the last epoch is scored
        return concat_csvs([train, val], run_dir / "trainval.csv"), None, test
    return train, val, test


def run_fold(options: dict, data: dict, fold: Path, run_dir: Path, held_out: str | None, seed: int,
             faces_from: Path | None = None, device: str = "cpu", threads: int = 2) -> pd.DataFrame:
    """Train one recipe on one fold and score its test set: one row per video (cached in oof.csv)."""
    from dfdetect.benchmarking.experiment import run_experiment
    from dfdetect.benchmarking.folds import fold_test_groups
    from dfdetect.training import TrainConfig

    cached = run_dir / "oof.csv"
    if cached.is_file():
        return pd.read_csv(cached, dtype={"video_id": str, "group": str})
    train, val, test = fold_csvs(fold, run_dir, data, held_out, faces_from)
    config = TrainConfig(train_csv=str(train), val_csv=str(val) if val else None, device=device, workers=2,
                         seed=seed, **options)
    result = run_experiment(config, [test], run_dir / "train", checkpoint="last" if val is None else "best",
                            resume=True, threads=threads)
    groups = fold_test_groups(fold)
    df = result.scores().drop(columns="set").rename(columns={"score": "prob"})
    df["fold"], df["group"] = fold.name, [groups.get(v, v) for v in df["video_id"]]
    df["seconds"] = result.train_s + result.eval_s
    df.to_csv(cached, index=False)
    return df


def run_names(name: str, held_out: str | None, train_seed: int | None) -> tuple[str, str]:
    """(folder/file tag, table label) of one run: cross-manipulation and seed repeats get their own."""
    repeat = f"-seed{train_seed}" if train_seed is not None else ""
    if held_out:
        return f"{name}-without-{held_out}{repeat}", f"{name} (unseen {held_out}){repeat}"
    return f"{name}{repeat}", f"{name}{repeat}"


def run_recipes(args: argparse.Namespace, names: list[str]) -> pd.DataFrame:
    from dfdetect.benchmarking.folds import find_folds
    from dfdetect.benchmarking.oof import summarise_oof

    splits = args.folds_dir or prepare(args.root, args.work, args.folds, args.seed)
    all_folds = find_folds(splits)
    fold_dirs = all_folds
    if args.only_fold is not None:
        fold_dirs = [all_folds[args.only_fold]]
    elif args.holdout_fold is not None:
        fold_dirs = [f for i, f in enumerate(all_folds) if i != args.holdout_fold]
    seed = args.seed if args.train_seed is None else args.train_seed
    rows = []
    for name in names:
        options, data = load_recipe(name, args.recipes_dir, args.data_options)
        faces_from = extract_crops(args.root, args.work, data["crop"]) if data.get("crop") else None
        for held_out in (METHODS if args.cross else (None,)):
            tag, label = run_names(name, held_out, args.train_seed)
            oof = pd.concat([run_fold(options, data, f, args.work / "runs" / tag / f.name, held_out, seed, faces_from,
                                      args.device) for f in fold_dirs], ignore_index=True)
            suffix = "_folds" + "".join(f.name.removeprefix("fold_") for f in fold_dirs) if fold_dirs != all_folds else ""
            oof.to_csv(args.work / f"oof_{tag}{suffix}.csv", index=False)
            rows.append(summarise_oof(label, oof, methods=METHODS))
            r = rows[-1]
            auc = "n/a" if r["auc"] is None else f"{r['auc']:.3f}"
            print(f"{label}: pooled OOF video AUC {auc} {_bounds(r, 'auc')} (by identity group "
                  f"{_bounds(r, 'auc_group')}) folds {r['fold_aucs']} ({r['videos']} videos)", flush=True)
    return pd.DataFrame(rows)


def _bounds(row: dict, prefix: str) -> str:
    lo, hi = row.get(f"{prefix}_lo"), row.get(f"{prefix}_hi")
    return "[n/a]" if lo is None or hi is None else f"[{lo:.3f}, {hi:.3f}]"


def seed_ensembles(work: Path, names: list[str], seeds: list[int]) -> pd.DataFrame:
    """Each seed's pooled OOF AUC, their mean, and the seed ensemble (each video's mean probability)."""
    from dfdetect.benchmarking.oof import seed_ensemble, summarise_oof

    rows = []
    for name in names:
        runs = []
        for seed in seeds:
            tag, label = run_names(name, None, seed or None)
            path = work / f"oof_{tag}.csv"
            if not path.is_file():
                raise SystemExit(f"{path}: missing; run --recipes {name}" + (f" --train-seed {seed}" if seed else "") + " first")
            runs.append(pd.read_csv(path, dtype={"video_id": str}))
            rows.append(summarise_oof(label, runs[-1], methods=METHODS))
        aucs = [r["auc"] for r in rows[-len(seeds):]]
        listed = ",".join(map(str, seeds))
        rows.append({"recipe": f"{name} mean of seeds {listed}", "auc": sum(aucs) / len(aucs),
                     "seed_min": min(aucs), "seed_max": max(aucs)})
        merged = seed_ensemble(runs)
        merged.to_csv(work / f"oof_{name}-ensemble-seeds{''.join(map(str, seeds))}.csv", index=False)
        rows.append(summarise_oof(f"{name} ensemble of seeds {listed}", merged, methods=METHODS))
        external = [work / f"external_{run_names(name, None, seed or None)[0]}.csv" for seed in seeds]
        if all(p.is_file() for p in external):  # the --external check, for the ensemble
            rows[-1].update(external_ensemble([pd.read_csv(p, dtype={"video_id": str}) for p in external]))
    return pd.DataFrame(rows)


def external_ensemble(per_seed: list[pd.DataFrame]) -> dict:
    """AUC on the external clips of each fold's seed ensemble (mean over seeds), and of the mean of all."""
    from sklearn.metrics import roc_auc_score

    df = pd.concat(per_seed)
    by_fold = df.groupby(["fold", "video_id"]).agg(label=("label", "first"), prob=("prob", "mean")).reset_index()
    per_model = [roc_auc_score(g["label"], g["prob"]) for _, g in by_fold.groupby("fold")]
    mean = df.groupby("video_id").agg(label=("label", "first"), prob=("prob", "mean"))
    return {"external_auc_per_fold_ensemble": " ".join(f"{a:.3f}" for a in per_model),
            "external_auc_of_mean_score": roc_auc_score(mean["label"], mean["prob"])}


def score_external(work: Path, names: list[str], manifest: Path, train_seed: int | None, recipes_dir: Path,
                   data_options: Path, device: str = "cpu") -> pd.DataFrame:
    """Each recipe's fold models score labelled videos from other sources: the spread over the
    fold models and the AUC of their mean score (a handful of clips makes one model's AUC noise)."""
    from sklearn.metrics import roc_auc_score

    from dfdetect.evaluation.evaluate import EvalOptions, evaluate

    rows = []
    for name in names:
        _, data = load_recipe(name, recipes_dir, data_options)
        tag, label = run_names(name, None, train_seed)
        scores = []
        for fold in sorted((work / "runs" / tag).glob("fold_*")):
            ckpt = fold / "train" / ("last.ckpt" if data.get("trainval") else "best.ckpt")
            if (fold / "oof.csv").is_file() and ckpt.is_file():
                s = evaluate(ckpt, [manifest], EvalOptions(device=device)).sets[0]
                scores.append(pd.DataFrame({"video_id": s.video_ids, "label": s.labels, "prob": s.video_scores,
                                            "fold": fold.name}))
        if not scores:
            continue
        df = pd.concat(scores)
        df.to_csv(work / f"external_{tag}.csv", index=False)
        per_model = [roc_auc_score(g["label"], g["prob"]) for _, g in df.groupby("fold")]
        mean = df.groupby("video_id").agg(label=("label", "first"), prob=("prob", "mean"))
        rows.append({"recipe": label, "videos": len(mean), "fakes": int(mean["label"].sum()), "models": len(per_model),
                     "auc_per_model_mean": sum(per_model) / len(per_model), "auc_per_model_min": min(per_model),
                     "auc_per_model_max": max(per_model), "auc_of_mean_score": roc_auc_score(mean["label"], mean["prob"])})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    from dfdetect.benchmarking.oof import update_results

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path, nargs="?", help="FaceForensics++ root (original_sequences/, manipulated_sequences/)")
    ap.add_argument("--work", type=Path, default=Path("runs/ffpp"))
    ap.add_argument("--recipes", default=None, help="comma-separated recipe names (recipes/*.yaml); default: all")
    ap.add_argument("--recipes-dir", type=Path, default=HERE / "recipes")
    ap.add_argument("--data-options", type=Path, default=HERE / "data_options.yaml")
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--folds-dir", type=Path, default=None, help="an existing folds folder (skip extract and split)")
    ap.add_argument("--holdout-fold", type=int, default=None, help="leave this fold out (confirm a pick on it afterwards)")
    ap.add_argument("--only-fold", type=int, default=None, help="run just this fold (e.g. the held-out one)")
    ap.add_argument("--cross", action="store_true", help="cross-manipulation: train without one method, test on it")
    ap.add_argument("--external", type=Path, default=None, metavar="MANIFEST",
                    help="train nothing: score a labelled manifest from other sources with every finished fold model")
    ap.add_argument("--seed", type=int, default=0, help="the folds' seed (when first made) and the training seed")
    ap.add_argument("--train-seed", type=int, default=None, help="repeat a recipe with another training seed")
    ap.add_argument("--ensemble-seeds", default=None, metavar="0,1,2", help="train nothing: the seed ensemble of finished runs")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)

    known = recipe_names(args.recipes_dir)
    names = [n.strip() for n in (args.recipes or ",".join(known)).split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        ap.error(f"unknown recipe {unknown[0]}; choose from {', '.join(known)}")
    if args.ensemble_seeds:
        table, out, keys = seed_ensembles(args.work, names, [int(x) for x in args.ensemble_seeds.split(",")]), \
            args.work / "results_ensembles.csv", ("recipe",)
    elif args.external:
        if not args.external.is_file():
            ap.error(f"--external {args.external}: no such file; pass the manifest.csv written by `dfdetect extract`")
        table, out, keys = score_external(args.work, names, args.external, args.train_seed, args.recipes_dir,
                                          args.data_options, args.device), args.work / "results_external.csv", ("recipe",)
    else:
        if args.root is None and args.folds_dir is None:
            ap.error("give the FaceForensics++ root (or --folds-dir FOLDS)")
        args.work.mkdir(parents=True, exist_ok=True)
        table = run_recipes(args, names)
        out, keys = args.work / ("results_cross.csv" if args.cross else "results.csv"), ("recipe", "folds")
    if table.empty:
        print(f"nothing to report for {', '.join(names)} under {args.work}")
        return 1
    update_results(table, out, keys)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
