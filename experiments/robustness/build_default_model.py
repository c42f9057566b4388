"""Train a round-5/6 robustness recipe on every video of the FF++ sample and ship it as the bundled default.

    python experiments/robustness/build_default_model.py DATA/manifest.csv --recipe r3-cnn-sbi-160-views --work WORK

DATA is the extraction run.py used (`extract ... --frames 32 --size 160`, with `--reencode crf=32,40`
for a `views: true` recipe). Every identity group trains except a validation slice (12 % of the
groups, as experiments/ffpp/build_default_model.py keeps) that picks the epoch and fits the
calibration and the `balanced` threshold; for a views recipe it holds the slice's re-encoded views
too. The best checkpoint is stored as fp16 tensors in dfdetect/assets/default_detector.ckpt with
default_detector.json (recipe, data, date, SHA-256, and the recipe's out-of-fold figures from
WORK/results.csv, clean and at CRF 40). A calibrated checkpoint ships as trained: its temperature
and threshold already turn the raw score into a probability and a verdict, so the prior shift the
older builder applies to the output bias would only break them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import pandas as pd

from run import originals_manifest, read_recipe  # run.py beside this file

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "dfdetect" / "assets"
TRAINED_ON = ("the public FaceForensics++ c23 sample (47 real, 95 fake: Deepfakes, Face2Face, FaceSwap) "
              "plus self-blended fakes")
LICENCE = "FaceForensics++ terms of use: research and non-commercial use only"


def oof_figures(results: Path, recipe: str) -> dict:
    """The recipe's pooled out-of-fold figures per condition from run.py's results.csv."""
    if not results.is_file():
        return {}
    table = pd.read_csv(results)
    out = {}
    for row in table[table["recipe"] == recipe].itertuples():
        out[row.condition] = {"auc": round(float(row.auc), 3), "lo": round(float(row.auc_lo), 3),
                              "hi": round(float(row.auc_hi), 3), "videos": int(row.videos),
                              "balanced_accuracy": round(float(row.balanced_accuracy), 3),
                              "tpr": round(float(row.tpr), 3), "fpr": round(float(row.fpr), 3)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("manifest", type=Path)
    ap.add_argument("--recipe", required=True)
    ap.add_argument("--work", type=Path, required=True, help="run.py's --work (its results.csv gives the figures)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    import torch

    from dfdetect.checkpoint import read_checkpoint
    from dfdetect.default_model import CHECKPOINT_FILE, METADATA_FILE, sha256_of
    from dfdetect.splitting import make_splits
    from dfdetect.training import TrainConfig, train

    torch.set_num_threads(2)
    options, views = read_recipe(args.recipe)
    # a plain recipe must not pick up the views the manifest may hold
    manifest = args.manifest if views else originals_manifest(args.manifest)
    splits = args.work / f"all_{args.recipe}"
    make_splits([manifest], splits, test_size=0.0, val_size=0.12, test_ratios=[], resplit=True, seed=args.seed)
    run = args.work / f"default-{args.recipe}"
    if not (run / "best.ckpt").is_file() or not (run / "config.json").is_file():
        train(TrainConfig(**{**options, "train_csv": str(splits / "train.csv"), "val_csv": str(splits / "val.csv"),
                             "out": str(run), "device": "cpu", "seed": args.seed}))

    ckpt = read_checkpoint(run / "best.ckpt")
    ckpt.pop("train_state", None)  # optimizer state is for --resume, not for shipping
    config = json.loads(ckpt["config"])
    if not config.get("calibration"):
        raise SystemExit(f"{run}/best.ckpt has no calibration; this builder ships calibrated models only")
    ckpt["state_dict"] = {k: (v.half() if v.is_floating_point() else v) for k, v in ckpt["state_dict"].items()}
    config["bundled"] = {"recipe": args.recipe, "trained_on": TRAINED_ON, "date": dt.date.today().isoformat(),
                         "data_licence": LICENCE}
    ckpt["config"] = json.dumps(config, sort_keys=True)
    target = ASSETS / CHECKPOINT_FILE
    torch.save(ckpt, target)

    train_rows = pd.read_csv(splits / "train.csv", dtype=str, keep_default_na=False)
    originals = train_rows[train_rows.get("view", pd.Series("", index=train_rows.index)) == ""]
    figures = oof_figures(args.work / "results.csv", args.recipe)
    how = (f"experiments/robustness/run.py --recipes {args.recipe}: 4 identity-safe folds of the same sample, "
           "pooled out-of-fold, DeLong 95 % interval; balanced accuracy at each fold model's stored threshold")
    meta = {
        "model": f"{options['model']} on {options.get('backbone', options['model'])}",
        "recipe": args.recipe,
        "train_config": {**options, **({"views": "crf32, crf40 (extract --reencode crf=32,40)"} if views else {})},
        "trained_on": TRAINED_ON + (", each also re-encoded with H.264 at CRF 32 and 40" if views else ""),
        "data_licence": LICENCE,
        "extraction": {"detector": "dlib", "frames": 32, "scale": 1.3, "size": int(options.get("img_size", 160))},
        "date": dt.date.today().isoformat(),
        "oof_auc": {**figures["clean"], "how": how} if "clean" in figures else None,
        "oof_c40": {**figures["c40"], "how": how.replace("out-of-fold", "out-of-fold, every test video re-encoded with libx264 at CRF 40")}
        if "c40" in figures else None,
        "calibration": config["calibration"],
        "train_items": {"real": int((originals["label"] == "0").sum()), "fake": int((originals["label"] == "1").sum()),
                        "views": int(len(train_rows) - len(originals))},
        "sha256": sha256_of(target),
        "bytes": target.stat().st_size,
    }
    (ASSETS / METADATA_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {target} ({meta['bytes'] / 1e6:.1f} MB) and {ASSETS / METADATA_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
