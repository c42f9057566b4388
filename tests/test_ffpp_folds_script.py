"""benchmarks/ffpp_folds.py bookkeeping: the README's real-data numbers pass through these helpers."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

from dfdetect.manifest import MANIFEST_COLUMNS

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "ffpp_folds.py"


@pytest.fixture(scope="module")
def ffpp_folds():
    spec = importlib.util.spec_from_file_location("ffpp_folds", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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


def test_subset_takes_the_same_videos_crops_from_another_extraction(ffpp_folds, tmp_path):
    fold_test = _manifest(tmp_path / "folds4" / "fold_0" / "test.csv", ["a", "b", "c"], "../../data/faces", 160)
    other = _manifest(tmp_path / "data_224" / "manifest.csv", ["c", "x", "a", "b"], "faces", 224)

    out = ffpp_folds._subset(fold_test, tmp_path / "run" / "test.crops.csv", lambda r: True, faces_from=other)
    df = pd.read_csv(out, dtype=str)
    assert list(df["video_id"]) == ["a", "b", "c"]  # the fold's videos, in its order; "x" is not added
    assert list(df["faces_file"]) == [str(tmp_path / "data_224" / "faces" / f"{v}.npy") for v in "abc"]
    assert set(df["size"]) == {"224"}  # training records the crop size predict will extract at

    plain = pd.read_csv(ffpp_folds._subset(fold_test, tmp_path / "run" / "t.csv", lambda r: r.label == "1"), dtype=str)
    assert list(plain["video_id"]) == ["b"]
    faces = Path(plain["faces_file"][0])  # a relative path made absolute (against the fold CSV's folder)
    assert faces.is_absolute() and faces.resolve() == (tmp_path / "data" / "faces" / "b.npy").resolve()


def test_results_table_replaces_only_the_rows_it_reruns(ffpp_folds, tmp_path):
    out = tmp_path / "results.csv"
    ffpp_folds.write_results(pd.DataFrame({"recipe": ["a", "b"], "folds": ["0,1,2,3", "0,1,2,3"], "auc": [0.7, 0.8]}), out)
    ffpp_folds.write_results(pd.DataFrame({"recipe": ["a"], "folds": ["0,1,2"], "auc": [0.9]}), out)  # a selection run
    ffpp_folds.write_results(pd.DataFrame({"recipe": ["a"], "folds": ["0,1,2,3"], "auc": [0.75]}), out)
    table = pd.read_csv(out, dtype={"folds": str}).set_index(["recipe", "folds"])["auc"].to_dict()
    assert table == {("a", "0,1,2,3"): 0.75, ("b", "0,1,2,3"): 0.8, ("a", "0,1,2"): 0.9}

    external = tmp_path / "results_external.csv"  # keyed by recipe alone
    ffpp_folds.write_results(pd.DataFrame({"recipe": ["a", "b"], "auc": [0.5, 0.6]}), external, keys=("recipe",))
    ffpp_folds.write_results(pd.DataFrame({"recipe": ["b"], "auc": [0.4]}), external, keys=("recipe",))
    assert pd.read_csv(external).set_index("recipe")["auc"].to_dict() == {"a": 0.5, "b": 0.4}


def test_every_recipe_is_a_valid_training_config(ffpp_folds):
    from dfdetect.training import TrainConfig

    script_only = {"no_val", "real_only", "crop"}  # read by the script, not by train
    for name, recipe in ffpp_folds.RECIPES.items():
        fields = {k: v for k, v in {**ffpp_folds.COMMON, **recipe}.items() if k not in script_only}
        TrainConfig(train_csv="train.csv", **fields)  # an unknown or misspelt key raises TypeError


def test_seed_ensemble_averages_each_videos_probability_over_seeds(ffpp_folds, tmp_path):
    ids = ["orig_a", "x__Deepfakes__y_b", "orig_c", "x__FaceSwap__y_d", "orig_e", "x__Face2Face__y_f"]
    labels = [0, 1, 0, 1, 0, 1]
    probs = {0: [0.1, 0.9, 0.6, 0.4, 0.2, 0.8], 1: [0.5, 0.3, 0.2, 0.9, 0.1, 0.7]}
    for seed, p in probs.items():
        tag = "r" if seed == 0 else "r-seed1"
        order = list(range(6))[::-1] if seed else list(range(6))  # rows in another order: matched by video_id
        pd.DataFrame({"video_id": [ids[i] for i in order], "label": [labels[i] for i in order],
                      "prob": [p[i] for i in order], "fold": [f"fold_{int(i >= 4)}" for i in order], "seconds": 60.0}
                     ).to_csv(tmp_path / f"oof_{tag}.csv", index=False)
    assert ffpp_folds.report_seed_ensembles(tmp_path, ["r"], [0, 1]) == 0

    merged = pd.read_csv(tmp_path / "oof_r-ensemble-seeds01.csv").set_index("video_id")
    for i, vid in enumerate(ids):
        assert merged.loc[vid, "prob"] == pytest.approx((probs[0][i] + probs[1][i]) / 2)
        assert merged.loc[vid, "label"] == labels[i]
    table = pd.read_csv(tmp_path / "results_ensembles.csv").set_index("recipe")
    from sklearn.metrics import roc_auc_score

    aucs = [roc_auc_score(labels, probs[s]) for s in (0, 1)]
    assert table.loc["r mean of seeds 0,1", "auc"] == pytest.approx(sum(aucs) / 2)
    mean_prob = [(a + b) / 2 for a, b in zip(probs[0], probs[1])]
    assert table.loc["r ensemble of seeds 0,1", "auc"] == pytest.approx(roc_auc_score(labels, mean_prob))

    # the --external check of the ensemble: each fold's models averaged over the seeds
    ext = {0: [0.2, 0.7, 0.9, 0.4], 1: [0.6, 0.5, 0.1, 0.8]}  # fold_0 then fold_1, clips u (real) and v (fake)
    for seed, p in ext.items():
        pd.DataFrame({"video_id": ["u", "v"] * 2, "label": [0, 1] * 2, "prob": p, "fold": ["fold_0"] * 2 + ["fold_1"] * 2}
                     ).to_csv(tmp_path / f"external_{'r' if seed == 0 else 'r-seed1'}.csv", index=False)
    ffpp_folds.report_seed_ensembles(tmp_path, ["r"], [0, 1])
    row = pd.read_csv(tmp_path / "results_ensembles.csv").set_index("recipe").loc["r ensemble of seeds 0,1"]
    # fold_0: u 0.4, v 0.6 -> 1.0; fold_1: u 0.5, v 0.6 -> 1.0; all: u 0.45, v 0.6 -> 1.0
    assert row["external_auc_per_fold_ensemble"] == "1.000 1.000"
    ext[1] = [0.6, 0.0, 0.1, 0.8]  # fold_0 now u 0.4, v 0.35 -> 0.0
    pd.DataFrame({"video_id": ["u", "v"] * 2, "label": [0, 1] * 2, "prob": ext[1],
                  "fold": ["fold_0"] * 2 + ["fold_1"] * 2}).to_csv(tmp_path / "external_r-seed1.csv", index=False)
    ffpp_folds.report_seed_ensembles(tmp_path, ["r"], [0, 1])
    row = pd.read_csv(tmp_path / "results_ensembles.csv").set_index("recipe").loc["r ensemble of seeds 0,1"]
    assert row["external_auc_per_fold_ensemble"] == "0.000 1.000"

    (tmp_path / "oof_r-seed1.csv").unlink()
    with pytest.raises(SystemExit, match="--train-seed 1 first"):
        ffpp_folds.report_seed_ensembles(tmp_path, ["r"], [0, 1])
