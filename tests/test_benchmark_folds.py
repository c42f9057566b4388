"""`benchmark --data FOLDS`: one model per fold, pooled out-of-fold AUC with DeLong's interval."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from _traindata import make_stack
from dfdetect.manifest import MANIFEST_COLUMNS as COLUMNS
from dfdetect.cli import app

ENV = {"COLUMNS": "250"}


def write_folds(root: Path, k: int = 3, per_class: int = 6, seed: int = 0) -> list[str]:
    """root/faces/*.npy and root/folds/fold_i/{train,val,test}.csv: every video in one test.csv,
    val taken from the training videos, faces_file relative to each CSV's folder."""
    rng = np.random.default_rng(seed)
    (root / "faces").mkdir(parents=True)
    videos = []
    for i, label in enumerate([0] * per_class * k + [1] * per_class * k):
        vid = f"{'fake' if label else 'real'}_{i:03d}"
        np.save(root / "faces" / f"{vid}.npy", make_stack(rng, bool(label), 4, 32))
        videos.append({"video_id": vid, "path": f"/v/{vid}.mp4", "label": label, "group": vid, "method": "",
                       "dataset": "tiny", "split": "", "frames": 4, "faces": 4,
                       "faces_file": f"../../faces/{vid}.npy", "status": "ok", "error": ""})
    df = pd.DataFrame(videos, columns=COLUMNS)
    fold_of = np.concatenate([np.arange(len(df) // 2) % k, np.arange(len(df) // 2) % k])
    for f in range(k):
        folder = root / "folds" / f"fold_{f}"
        folder.mkdir(parents=True)
        test, rest = df[fold_of == f], df[fold_of != f]
        val = pd.concat([rest[rest["label"] == 0].head(2), rest[rest["label"] == 1].head(2)])
        test.to_csv(folder / "test.csv", index=False)
        val.to_csv(folder / "val.csv", index=False)
        rest.drop(val.index).to_csv(folder / "train.csv", index=False)
    return list(df["video_id"])


@pytest.fixture(scope="module")
def folds_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("folds")
    ids = write_folds(root)
    out = root / "out"
    r = CliRunner().invoke(app, ["benchmark", "--data", str(root / "folds"), "--models", "meso4", "--losses", "bce,auc",
                                 "--epochs", "1", "--frames", "4", "--img-size", "32", "--batch-size", "4",
                                 "--jobs", "1", "--device", "cpu", "--out", str(out)], env=ENV)
    return {"result": r, "out": out, "ids": ids}


def test_tiny_folds_benchmark_end_to_end(folds_run: dict) -> None:
    r, out = folds_run["result"], folds_run["out"]
    assert r.exit_code == 0, r.output
    assert "pooled AUC" in r.stdout and "meso4" in r.stdout and "36 (18/18)" in r.stdout
    folds = pd.read_csv(out / "folds.csv")
    assert len(folds) == 2 * 3 and set(folds["fold"]) == {"fold_0", "fold_1", "fold_2"}
    for fold in ("fold_0", "fold_1", "fold_2"):
        assert (out / fold / "runs" / "meso4-bce" / "best.ckpt").is_file()


def test_pooled_auc_is_over_every_video_once_with_its_interval(folds_run: dict) -> None:
    from sklearn.metrics import roc_auc_score

    out = folds_run["out"]
    oof = pd.read_csv(out / "oof_scores.csv")
    pooled = pd.read_csv(out / "results.csv")
    folds = pd.read_csv(out / "folds.csv")
    for loss in ("bce", "auc"):
        part = oof[oof["loss"] == loss]
        assert sorted(part["video_id"]) == sorted(folds_run["ids"])  # each video scored once, out of fold
        row = pooled[pooled["loss"] == loss].iloc[0]
        assert row["videos"] == 36 and row["folds"] == 3
        assert row["pooled_auc"] == pytest.approx(roc_auc_score(part["label"], part["score"]))
        assert row["pooled_auc_lo"] <= row["pooled_auc"] <= row["pooled_auc_hi"]
        per_fold = folds[folds["loss"] == loss]["auc"]
        assert row["fold_auc_min"] == pytest.approx(per_fold.min()) and row["fold_auc_max"] == pytest.approx(per_fold.max())
        assert row["fold_auc_std"] == pytest.approx(per_fold.std(ddof=1))


def test_pooled_auc_has_an_identity_group_interval_beside_delongs(folds_run: dict) -> None:
    from dfdetect.evaluation.intervals import group_bootstrap_auc_ci

    out = folds_run["out"]
    oof = pd.read_csv(out / "oof_scores.csv")
    assert (oof["group"] == oof["video_id"]).all()  # write_folds: every video is its own group
    pooled = pd.read_csv(out / "results.csv")
    for loss in ("bce", "auc"):
        part, row = oof[oof["loss"] == loss], pooled[pooled["loss"] == loss].iloc[0]
        ci = group_bootstrap_auc_ci(part["label"], part["score"], part["group"], n_boot=2000, seed=0)
        assert row["groups"] == 36
        assert row["pooled_auc_group_lo"] == pytest.approx(ci.lo) and row["pooled_auc_group_hi"] == pytest.approx(ci.hi)
        assert row["pooled_auc_group_lo"] <= row["pooled_auc"] <= row["pooled_auc_group_hi"]
    assert "by identity group" in folds_run["result"].stdout and "(36 groups)" in folds_run["result"].stdout


def _folds_json(folds: Path, k: int) -> None:
    import json

    (folds / "folds.json").write_text(json.dumps({"folds": [{"dir": f"fold_{i}"} for i in range(k)]}))


def test_a_folds_folder_that_does_not_match_its_folds_json_is_refused(tmp_path: Path) -> None:
    import shutil

    write_folds(tmp_path)
    folds = tmp_path / "folds"
    _folds_json(folds, 3)
    shutil.rmtree(folds / "fold_1")
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["benchmark", "--data", str(folds), "--models", "meso4", "--out", str(out)], env=ENV)
    assert r.exit_code == 1 and "folds.json lists 3 folds but fold_1/ is missing" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not out.exists()
    _folds_json(folds, 1)  # now fold_2/ is one folds.json does not list
    r = CliRunner().invoke(app, ["benchmark", "--data", str(folds), "--models", "meso4", "--out", str(out)], env=ENV)
    assert r.exit_code == 1 and "fold_2/ is not one of the 1 folds folds.json lists" in r.stderr


def test_duplicate_names_are_refused_before_any_training(tmp_path: Path) -> None:
    write_folds(tmp_path)
    out = tmp_path / "out"
    for option, value, name in (("--models", "meso4,meso4", "meso4"), ("--losses", "bce,bce", "bce")):
        r = CliRunner().invoke(app, ["benchmark", "--data", str(tmp_path / "folds"), option, value,
                                     "--out", str(out)], env=ENV)
        assert r.exit_code == 2 and f"{option}: '{name}' given twice" in r.stderr
    assert not out.exists()


def test_a_fold_without_test_csv_is_a_one_line_error(tmp_path: Path) -> None:
    write_folds(tmp_path)
    (tmp_path / "folds" / "fold_1" / "test.csv").unlink()
    r = CliRunner().invoke(app, ["benchmark", "--data", str(tmp_path / "folds"), "--models", "meso4"], env=ENV)
    assert r.exit_code == 1 and "fold_1: no test.csv" in r.stderr
