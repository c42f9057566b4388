"""Out-of-fold bookkeeping (dfdetect.benchmarking.oof) and the FF++ experiment files it serves:
the recipes are valid training config files, the committed results name existing recipes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dfdetect.benchmarking.oof import pooled_auc, seed_ensemble, subset_csv, summarise_oof, update_results
from dfdetect.errors import DfdetectError
from dfdetect.manifest import MANIFEST_COLUMNS

FFPP = Path(__file__).resolve().parents[1] / "experiments" / "ffpp"


def _manifest(path: Path, videos: list[str], faces_dir: str, size: int) -> Path:
    rows = []
    for i, v in enumerate(videos):
        row = dict.fromkeys(MANIFEST_COLUMNS, "")
        row.update(video_id=v, label=str(i % 2), group=v, method="real" if i % 2 == 0 else "Deepfakes",
                   faces_file=f"{faces_dir}/{v}.npy", status="ok", size=str(size))
        rows.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_subset_takes_the_same_videos_crops_from_another_extraction(tmp_path: Path) -> None:
    fold_test = _manifest(tmp_path / "folds4" / "fold_0" / "test.csv", ["a", "b", "c"], "../../data/faces", 160)
    other = _manifest(tmp_path / "data_224" / "manifest.csv", ["c", "x", "a", "b"], "faces", 224)

    df = pd.read_csv(subset_csv(fold_test, tmp_path / "run" / "test.crops.csv", faces_from=other), dtype=str)
    assert list(df["video_id"]) == ["a", "b", "c"]  # the fold's videos, in its order; "x" is not added
    assert list(df["faces_file"]) == [str(tmp_path / "data_224" / "faces" / f"{v}.npy") for v in "abc"]
    assert set(df["size"]) == {"224"}  # training records the crop size predict will extract at

    plain = pd.read_csv(subset_csv(fold_test, tmp_path / "run" / "t.csv", lambda r: r.label == "1"), dtype=str)
    assert list(plain["video_id"]) == ["b"]
    faces = Path(plain["faces_file"][0])  # a relative path made absolute (against the fold CSV's folder)
    assert faces.is_absolute() and faces.resolve() == (tmp_path / "data" / "faces" / "b.npy").resolve()

    short = _manifest(tmp_path / "data_96" / "manifest.csv", ["a", "b"], "faces", 96)
    with pytest.raises(DfdetectError, match="no crops of c"):
        subset_csv(fold_test, tmp_path / "run" / "u.csv", faces_from=short)


def test_results_table_replaces_only_the_rows_it_reruns(tmp_path: Path) -> None:
    out = tmp_path / "results.csv"
    update_results(pd.DataFrame({"recipe": ["a", "b"], "folds": ["0,1,2,3", "0,1,2,3"], "auc": [0.7, 0.8]}), out)
    update_results(pd.DataFrame({"recipe": ["a"], "folds": ["0,1,2"], "auc": [0.9]}), out)  # a selection run
    update_results(pd.DataFrame({"recipe": ["a"], "folds": ["0,1,2,3"], "auc": [0.75]}), out)
    table = pd.read_csv(out, dtype={"folds": str}).set_index(["recipe", "folds"])["auc"].to_dict()
    assert table == {("a", "0,1,2,3"): 0.75, ("b", "0,1,2,3"): 0.8, ("a", "0,1,2"): 0.9}

    external = tmp_path / "results_external.csv"  # keyed by recipe alone
    update_results(pd.DataFrame({"recipe": ["a", "b"], "auc": [0.5, 0.6]}), external, keys=("recipe",))
    update_results(pd.DataFrame({"recipe": ["b"], "auc": [0.4]}), external, keys=("recipe",))
    assert pd.read_csv(external).set_index("recipe")["auc"].to_dict() == {"a": 0.5, "b": 0.4}


def test_group_interval_is_wider_when_an_identitys_videos_move_together() -> None:
    """20 identity groups of 3 reals and 3 fakes; how far a group's fakes score above its reals is
    a property of the identity (some are easy, some hard). 120 videos, but only 20 independent
    units: DeLong counts 120, the group bootstrap resamples the 20, so its interval is wider."""
    rng = np.random.default_rng(0)
    labels, scores, groups = [], [], []
    for g in range(20):
        lift = rng.normal(0.05, 0.15)  # this identity's fakes: easy (high) or hard (low)
        for v in range(6):
            fake = v % 2 == 1
            labels.append(int(fake))
            scores.append(0.4 + (lift if fake else 0.0) + rng.normal(0, 0.03))
            groups.append(f"id{g}")
    row = pooled_auc(labels, scores, groups)
    from sklearn.metrics import roc_auc_score

    assert row["auc"] == pytest.approx(roc_auc_score(labels, scores))
    assert row["auc_lo"] <= row["auc"] <= row["auc_hi"]
    assert row["auc_group_lo"] <= row["auc"] <= row["auc_group_hi"]
    assert (row["auc_group_hi"] - row["auc_group_lo"]) > 1.3 * (row["auc_hi"] - row["auc_lo"])
    assert pooled_auc(labels, scores, groups) == row  # seeded

    one = pooled_auc([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8], ["g", "g", "g", "g"])  # one group: no group interval
    assert one["auc"] == 1.0 and one["auc_group_lo"] is None and one["auc_group_hi"] is None
    assert set(pooled_auc([0, 0], [0.1, 0.2]).values()) == {None}  # one class: nothing defined


def test_seed_ensemble_averages_each_videos_probability_over_seeds() -> None:
    from sklearn.metrics import roc_auc_score

    ids = ["orig_a", "x__Deepfakes__y_b", "orig_c", "x__FaceSwap__y_d", "orig_e", "x__Face2Face__y_f"]
    labels = [0, 1, 0, 1, 0, 1]
    probs = {0: [0.1, 0.9, 0.6, 0.4, 0.2, 0.8], 1: [0.5, 0.3, 0.2, 0.9, 0.1, 0.7]}
    runs = []
    for seed, p in probs.items():
        order = list(range(6))[::-1] if seed else list(range(6))  # rows in another order: matched by video_id
        runs.append(pd.DataFrame({"video_id": [ids[i] for i in order], "label": [labels[i] for i in order],
                                  "prob": [p[i] for i in order], "fold": [f"fold_{int(i >= 4)}" for i in order],
                                  "seconds": 60.0}))
    merged = seed_ensemble(runs).set_index("video_id")
    for i, vid in enumerate(ids):
        assert merged.loc[vid, "prob"] == pytest.approx((probs[0][i] + probs[1][i]) / 2)
        assert merged.loc[vid, "label"] == labels[i]
    mean_prob = [(a + b) / 2 for a, b in zip(probs[0], probs[1])]
    row = summarise_oof("r ensemble", merged.reset_index(), methods=("Deepfakes", "FaceSwap"))
    assert row["auc"] == pytest.approx(roc_auc_score(labels, mean_prob))
    assert row["videos"] == 6 and row["fakes"] == 3 and row["folds"] == "0,1"
    assert row["minutes_per_fold"] == pytest.approx(2.0)  # 60 s per run, summed over the two seeds
    # reals against the Deepfakes fake only: 0.6 beats reals 0.3 and 0.15 but not 0.4 -> 2 of 3
    assert row["auc_Deepfakes"].startswith(f"{roc_auc_score([0, 1, 0, 0], [0.3, 0.6, 0.4, 0.15]):.3f} [")
    with pytest.raises(DfdetectError, match="scored different videos"):
        seed_ensemble([runs[0], runs[1].iloc[1:]])


def test_every_ffpp_recipe_is_a_training_config_file() -> None:
    import yaml

    from dfdetect.training import TrainConfig
    from dfdetect.training.config_file import read_train_config

    recipes = {p.stem: read_train_config(p) for p in sorted((FFPP / "recipes").glob("*.yaml"))}
    assert len(recipes) >= 19
    for name, options in recipes.items():
        TrainConfig(train_csv="train.csv", **options).validate()  # a valid config (read_train_config refuses unknown keys)
    best = recipes["cnn-lite0-sbi-224-e24"]
    assert best == {"model": "cnn", "backbone": "efficientnet_lite0", "pretrained": True, "freeze": 3,
                    "augment": ["flip", "color", "sbi"], "loss": "bce", "img_size": 224, "frames": 8, "epochs": 24,
                    "batch_size": 8, "lr": 3e-4, "schedule": "cosine"}
    # the fourth round measured timm's warm-up: the file must say so to reproduce its rows
    assert recipes["cnn-lite0-sbi-224-e24-ema"] == {**best, "ema": 0.999, "ema_warmup": True}
    data = yaml.safe_load((FFPP / "data_options.yaml").read_text())
    assert set(data) <= set(recipes) and data["cnn-lite0-sbi-224-e24"] == {"crop": 224}
    assert all(set(v) <= {"trainval", "real_only", "crop"} for v in data.values())
    # every committed result names a recipe file
    for csv in (FFPP / "results").glob("*.csv"):
        assert set(pd.read_csv(csv)["recipe"]) <= set(recipes), csv.name
