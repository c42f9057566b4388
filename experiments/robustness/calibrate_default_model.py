"""Give the bundled default model the verdict policy chosen in README.md ("How the shipped model turns
scores into verdicts"): calibration and a `balanced` threshold fitted on its own held-back validation
videos and their CRF 32 and CRF 40 views (policy CV). The weights are not retrained.

    python experiments/robustness/calibrate_default_model.py DATA/manifest.csv --work WORK

DATA is run.py's extraction with views (`dfdetect extract FFPP_ROOT --dataset ff++ --frames 32
--size 160 --reencode crf=32,40`). The validation slice is rebuilt the way
experiments/ffpp/build_default_model.py made it (the originals, `make_splits` with 12 % of the
identity groups for validation, seed 0) and checked against the training counts the bundled
metadata records, so the fit never sees a video the model trained on. The calibration goes into the
checkpoint's config (as `train` records it) and into default_detector.json with the new SHA-256.
Run it on the uncalibrated file that experiments/ffpp/build_default_model.py writes; a model that
already carries a calibration is refused (calibrating twice would fit on calibrated scores).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from run import originals_manifest  # run.py beside this file

POLICY = ("CV: fitted on the validation slice's videos and their CRF 32 and CRF 40 re-encodes "
          "(experiments/robustness/README.md, 'How the shipped model turns scores into verdicts')")


def validation_with_views(manifest: Path, work: Path, seed: int, expected: dict) -> Path:
    """WORK/val_views.csv: the bundled model's validation videos and their views."""
    from dfdetect.splitting import make_splits

    rows = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    if "view" not in rows.columns or not (rows["view"] != "").any():
        raise SystemExit(f"{manifest}: no views; extract with --reencode crf=32,40 first")
    originals = originals_manifest(manifest)
    splits = work / "all_default"
    make_splits([originals], splits, test_size=0.0, val_size=0.12, test_ratios=[], resplit=True, seed=seed)
    train = pd.read_csv(splits / "train.csv", dtype=str)
    n_real, n_fake = int((train["label"] == "0").sum()), int((train["label"] == "1").sum())
    sbi = n_real if "sbi" in expected.get("augment", []) else 0
    if (n_real, n_fake + sbi) != (expected["real"], expected["fake"]):
        raise SystemExit(f"the rebuilt split trains on {n_real} real / {n_fake + sbi} fake items, the bundled "
                         f"model on {expected['real']} / {expected['fake']}: not its validation slice")
    val_ids = set(pd.read_csv(splits / "val.csv", dtype=str)["video_id"])
    chosen = rows[rows["video_id"].isin(val_ids) | rows["source_id"].isin(val_ids)].copy()
    for column in ("faces_file", "sidecar"):  # absolute, so that the CSV can live in WORK
        chosen[column] = [str((manifest.parent / f).resolve()) if f else f for f in chosen[column]]
    out = work / "val_views.csv"
    chosen.to_csv(out, index=False)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("manifest", type=Path)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    import torch

    from dfdetect.checkpoint import build_from_checkpoint, read_checkpoint, update_checkpoint_config
    from dfdetect.default_model import ASSETS, METADATA_FILE, default_checkpoint, metadata, sha256_of
    from dfdetect.evaluation.calibration import fit_calibration
    from dfdetect.training.calibrate import score_validation

    torch.set_num_threads(2)
    args.work.mkdir(parents=True, exist_ok=True)
    meta = dict(metadata())
    path = default_checkpoint()  # SHA-256 checked
    model, config = build_from_checkpoint(read_checkpoint(path), path)
    if config.get("calibration"):
        raise SystemExit(f"{path} already carries a calibration; rebuild it first (experiments/ffpp/build_default_model.py)")
    val = validation_with_views(args.manifest, args.work, args.seed,
                                {**meta["train_items"], "augment": meta["train_config"].get("augment", [])})
    labels, probs = score_validation(model.float().eval(), config, val, "cpu")
    calibration = fit_calibration(labels, probs, "balanced")
    record = {**calibration.to_dict(), "fitted_on": POLICY}
    update_checkpoint_config(path, {"calibration": record})
    meta.update(calibration=record, sha256=sha256_of(path), bytes=path.stat().st_size)
    (ASSETS / METADATA_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
