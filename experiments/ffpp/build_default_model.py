"""Train the bundled default detector on a FaceForensics++ folder and write it into the package.

    python experiments/ffpp/build_default_model.py /data/ffpp --work runs/ffpp --recipe cnn-lite0-sbi-160

Uses the same extraction and recipe files as run.py (recipes/<name>.yaml, data_options.yaml), trains on every video of the
folder (a tenth of the groups kept back for checkpoint selection), then stores the best checkpoint
as fp16 tensors in dfdetect/assets/default_detector.ckpt with default_detector.json next to it
(recipe, data, date, SHA-256, and the out-of-fold AUC from WORK/results.csv when that exists).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
from pathlib import Path

import pandas as pd

from run import HERE, extract_crops, load_recipe, recipe_names  # run.py beside this file

ASSETS = Path(__file__).resolve().parents[2] / "dfdetect" / "assets"
TRAINED_ON = ("the public FaceForensics++ c23 sample (47 real, 95 fake: Deepfakes, Face2Face, FaceSwap) "
              "plus self-blended fakes")
LICENCE = "FaceForensics++ terms of use: research and non-commercial use only"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("--work", type=Path, default=Path("runs/ffpp"))
    ap.add_argument("--recipe", default="cnn-lite0-sbi-160", choices=recipe_names(HERE / "recipes"))
    ap.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-train", action="store_true", help="re-ship WORK's finished run (metadata, prior shift)")
    args = ap.parse_args(argv)

    import torch

    from dfdetect.checkpoint import read_checkpoint
    from dfdetect.default_model import CHECKPOINT_FILE, METADATA_FILE, sha256_of
    from dfdetect.splitting import make_splits
    from dfdetect.training import TrainConfig, train

    torch.set_num_threads(2)
    recipe, data = load_recipe(args.recipe, HERE / "recipes", HERE / "data_options.yaml")
    crop = int(data.get("crop", 160))  # the crop size of the recipe's extraction (as in run.py)
    manifest = extract_crops(args.root, args.work, crop)
    splits = args.work / ("all" if crop == 160 else f"all_{crop}")
    # every group trains except a small validation slice for best.ckpt; no test set is held out here
    # (the recipe's quality is the out-of-fold estimate from run.py)
    no_val = data.get("trainval", False)  # such a recipe trains on every group and ships its last epoch
    real_only = data.get("real_only", False)  # ... and this one on the real videos alone (SBI)
    make_splits([manifest], splits, test_size=0.0, val_size=0.0 if no_val else 0.12, test_ratios=[],
                resplit=True, seed=args.seed)
    if real_only:
        rows = pd.read_csv(splits / "train.csv", dtype=str, keep_default_na=False)
        rows[rows["label"] == "0"].to_csv(splits / "train.csv", index=False)
    if args.epochs:
        recipe["epochs"] = args.epochs
    run = args.work / f"default-{args.recipe}"
    chosen = run / ("last.ckpt" if no_val else "best.ckpt")
    if not (args.skip_train and chosen.is_file()):
        train(TrainConfig(train_csv=str(splits / "train.csv"), val_csv=None if no_val else str(splits / "val.csv"),
                          out=str(run), device="cpu", workers=2, seed=args.seed, **recipe))

    ckpt = read_checkpoint(chosen)
    ckpt.pop("train_state", None)  # optimizer state is for --resume, not for shipping
    # Prior shift: training saw more fakes than reals (the FF++ fakes plus one self-blended fake per
    # real clip), so the raw sigmoid leans to "fake" on every input. Subtracting the training prior's
    # log-odds from the output bias gives P(fake) for an even prior: 0.5 means no evidence either way.
    labels = pd.read_csv(splits / "train.csv")["label"].astype(int)
    n_real = int((labels == 0).sum())
    n_fake = int((labels == 1).sum()) + (n_real if {"sbi", "xray"} & set(recipe.get("augment", [])) else 0)
    log_odds = math.log(n_fake / n_real)
    heads = [k for k in ("net.fc.bias", "frame_head.bias", "video_head.bias") if k in ckpt["state_dict"]]
    for key in heads:
        ckpt["state_dict"][key] = ckpt["state_dict"][key].float() - log_odds
    ckpt["state_dict"] = {k: (v.half() if v.is_floating_point() else v) for k, v in ckpt["state_dict"].items()}
    config = json.loads(ckpt["config"])
    config["bundled"] = {"recipe": args.recipe, "trained_on": TRAINED_ON, "date": dt.date.today().isoformat(),
                         "data_licence": LICENCE, "prior_log_odds_removed": round(log_odds, 4)}
    ckpt["config"] = json.dumps(config, sort_keys=True)
    ASSETS.mkdir(parents=True, exist_ok=True)
    target = ASSETS / CHECKPOINT_FILE
    torch.save(ckpt, target)

    oof, row = None, None
    results = args.work / "results.csv"
    if results.is_file():
        table = pd.read_csv(results, dtype={"folds": str})
        rows = table[(table["recipe"] == args.recipe) & (table["folds"] == "0,1,2,3")]
        row = rows.iloc[-1] if len(rows) else None
    if row is not None:
        oof = {"auc": round(float(row["auc"]), 3), "lo": round(float(row["auc_lo"]), 3), "hi": round(float(row["auc_hi"]), 3),
               "videos": int(row["videos"]), "folds": row["fold_aucs"],
               "how": f"experiments/ffpp/run.py --recipes {args.recipe}: 4 identity-safe folds of the same sample, "
                      "pooled out-of-fold, DeLong 95 % interval"}
    meta = {
        "model": f"{recipe['model']} on {recipe.get('backbone', recipe['model'])}",
        "recipe": args.recipe,
        "train_config": recipe,
        "trained_on": TRAINED_ON,
        "data_licence": LICENCE,
        "extraction": {"detector": "dlib", "frames": 32, "scale": 1.3, "size": crop},
        "date": dt.date.today().isoformat(),
        "oof_auc": oof,
        "train_items": {"real": n_real, "fake": n_fake},
        "prior_log_odds_removed": round(log_odds, 4),
        "sha256": sha256_of(target),
        "bytes": target.stat().st_size,
    }
    (ASSETS / METADATA_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {target} ({meta['bytes'] / 1e6:.1f} MB) and {ASSETS / METADATA_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
