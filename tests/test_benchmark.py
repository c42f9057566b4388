"""`dfdetect benchmark`: a miniature run end to end (two models, one ratio, one epoch), a re-run
on its split folder with the same seed, and the speed mode."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from conftest import wide_runner
from dfdetect.cli import app

TINY = ["--epochs", "1", "--frames", "4", "--img-size", "32", "--test-ratios", "1:2", "--repeats", "2",
        "--n-real", "18", "--n-fake", "8", "--device", "cpu", "--seed", "3", "--jobs", "2"]


@pytest.fixture(scope="module")
def mini(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bench") / "out"
    r = wide_runner().invoke(app, ["benchmark", "--models", "meso4,dual", "--losses", "auc", "--out", str(out), *TINY])
    return {"out": out, "result": r}


@pytest.mark.slow  # generates, extracts, splits and trains two models
def test_miniature_benchmark_end_to_end(mini: dict) -> None:
    r, out = mini["result"], mini["out"]
    assert r.exit_code == 0, r.output
    # the table: one row per model × loss, one column per test set
    assert "meso4" in r.stdout and "dual" in r.stdout and "1:2" in r.stdout and "test (natural)" in r.stdout
    # no "try predict with it": 0.5 is not a threshold for these quick models (issue 23)
    said = " ".join(r.stderr.split())  # rich wraps long lines
    assert "dfdetect predict" not in said and "not that a 0.5 score separates fake from real" in said
    assert f"dfdetect eval {out / 'runs'}" in said
    # generated, extracted and split on the way
    assert len(list((out / "videos" / "real").glob("*.mp4"))) == 18
    manifest = pd.read_csv(out / "data" / "manifest.csv")
    assert len(manifest) == 26 and (manifest["status"] == "ok").mean() > 0.9
    assert (out / "splits" / "test_1to2_r0.csv").is_file() and (out / "splits" / "test_1to2_r1.csv").is_file()
    # results: one row per model × loss × test set, AUCs in [0, 1]
    res = pd.read_csv(out / "results.csv")
    assert set(res["model"]) == {"meso4", "dual"} and set(res["loss"]) == {"auc"}
    assert set(res["set"]) == {"test", "test_1to2_r0", "test_1to2_r1"}
    assert res["auc"].between(0, 1).all()
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["set"]) == {"test", "test_1to2"}
    # checkpoints kept for `dfdetect predict`, plots written
    for combo in ("meso4-auc", "dual-auc"):
        assert (out / "runs" / combo / "best.ckpt").is_file()
    for png in ("auc_vs_ratio.png", "roc_test.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_same_seed_same_results_on_a_split_folder(mini: dict, tmp_path: Path) -> None:
    assert mini["result"].exit_code == 0
    out = tmp_path / "again"
    r = wide_runner().invoke(app, ["benchmark", "--data", str(mini["out"] / "splits"), "--models", "meso4",
                                 "--losses", "auc", "--out", str(out), *TINY])
    assert r.exit_code == 0, r.output
    # every metric column of every test set, exactly (same seed, same thread count)
    for name in ("results.csv", "summary.csv"):
        first = pd.read_csv(mini["out"] / name)
        first = first[first["model"] == "meso4"].reset_index(drop=True)
        again = pd.read_csv(out / name)
        assert len(again) == len(first) > 0 and list(again.columns) == list(first.columns)
        pd.testing.assert_frame_equal(again, first, check_exact=True)
    # and the trained weights, tensor for tensor
    from dfdetect.checkpoint import read_checkpoint

    for ckpt in ("best.ckpt", "last.ckpt"):
        a = read_checkpoint(mini["out"] / "runs" / "meso4-auc" / ckpt)["state_dict"]
        b = read_checkpoint(out / "runs" / "meso4-auc" / ckpt)["state_dict"]
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), ckpt
    assert not (out / "videos").exists()  # --data skips generation


def test_benchmark_usage_errors(tmp_path: Path) -> None:
    r = wide_runner().invoke(app, ["benchmark", "--models", "dula", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "did you mean 'dual'" in r.stderr
    r = wide_runner().invoke(app, ["benchmark", "--test-ratios", "1-10", "--out", str(tmp_path / "y")])
    assert r.exit_code == 2
    r = wide_runner().invoke(app, ["benchmark", "--data", str(tmp_path), "--out", str(tmp_path / "z")])
    assert r.exit_code == 1 and "train.csv" in r.stderr


@pytest.mark.parametrize(("args", "code", "words"), [
    (["--data", "nonexist"], 1, "--data nonexist: no such folder"),
    (["--train-ratio", "abc"], 2, "--train-ratio: 'abc' is not a ratio"),
    (["--test-ratios", "1:2,abc"], 2, "--test-ratios: 'abc' is not a ratio"),
    (["--models", "meso4,meso4"], 2, "--models: 'meso4' given twice"),
    (["--losses", "bce,auc,bce"], 2, "--losses: 'bce' given twice"),
    (["--test-ratios", "1:10,1:2,1:10"], 2, "--test-ratios: '1:10' given twice"),
])
def test_bad_inputs_are_refused_before_any_work(tmp_path: Path, args: list[str], code: int, words: str) -> None:
    out = tmp_path / "out"
    r = wide_runner().invoke(app, ["benchmark", *args, "--out", str(out)])
    assert r.exit_code == code and words in r.stderr, r.output
    assert len(r.stderr.strip().splitlines()) == 1 and not out.exists()


def test_library_refuses_duplicates_too() -> None:
    from dfdetect.benchmarking import BenchmarkOptions, run_benchmark
    from dfdetect.errors import UsageError

    with pytest.raises(UsageError, match="'1:10' and '1:010' given twice"):
        run_benchmark(BenchmarkOptions(models=["meso4"], test_ratios=["1:10", "1:010"]))  # one ratio, written twice


def test_speed_mode_table() -> None:
    from dfdetect.benchmarking import SpeedOptions, run_speed

    rows = run_speed(SpeedOptions(detectors=["dlib"], models=["meso4"], device="cpu", frames=2, repeats=1,
                                  clip_size=128))
    by_stage = {r["stage"]: r for r in rows}
    assert by_stage["extract"]["name"] == "dlib" and by_stage["extract"]["frames_per_s"] > 0
    assert by_stage["model"]["name"] == "meso4" and by_stage["model"]["frames_per_s"] > 0
    assert by_stage["model"]["input"].endswith("x256x256")  # the model's own input size


@pytest.mark.slow  # two synthetic data sets generated and extracted
def test_synthetic_data_is_identical_for_the_same_seed(tmp_path: Path) -> None:
    from dfdetect.benchmarking.synthetic import SyntheticOptions, build_synthetic_splits

    def build(name: str) -> dict[str, list[str]]:
        opts = SyntheticOptions(test_ratios=["1:2"], n_real=24, n_fake=10, frames=2, crop_size=32, repeats=2,
                                workers=2, seed=5)
        splits = build_synthetic_splits(tmp_path / name, opts)
        return {p.name: pd.read_csv(p)["video_id"].tolist() for p in sorted(splits.glob("*.csv"))}

    first, second = build("a"), build("b")
    assert "test_1to2_r1.csv" in first and first == second  # parallel extraction order does not leak
