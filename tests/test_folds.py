"""`dfdetect split --folds K`: identity-safe group folds where every video is tested exactly once."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from dfdetect.cli import app
from dfdetect.errors import DfdetectError
from dfdetect.manifest import resolve_faces_path
from dfdetect.splitting import make_folds, read_folds

from _splitdata import METHODS, ffpp_rows, plain_rows, write_manifest


def _read(folder: Path) -> dict[str, pd.DataFrame]:
    return {name: pd.read_csv(folder / f"{name}.csv", keep_default_na=False)
            for name in ("train", "val", "test") if (folder / f"{name}.csv").exists()}


@pytest.fixture()
def ffpp(tmp_path: Path) -> Path:
    # 30 identity groups, each a real plus 4 fakes (one per method); plus 20 plain videos
    rows = ffpp_rows(30) + plain_rows(10, 10, prefix="x")
    return write_manifest(tmp_path / "data", rows)


def test_every_video_is_tested_exactly_once_and_no_group_crosses_sets(ffpp: Path, tmp_path: Path) -> None:
    summary = make_folds([ffpp], tmp_path / "splits", folds=4, val_size=0.15, seed=0)
    all_ids = set(pd.read_csv(ffpp)["video_id"])
    tested: list[str] = []
    for folder in summary.fold_dirs:
        sets = _read(folder)
        assert set(sets) == {"train", "val", "test"}
        ids = [set(df["video_id"]) for df in sets.values()]
        assert set.union(*ids) == all_ids and sum(map(len, ids)) == len(all_ids)  # a partition
        groups = {name: set(df["group"]) for name, df in sets.items()}
        assert not groups["train"] & groups["test"] and not groups["val"] & groups["test"]
        assert not groups["train"] & groups["val"]
        for name, df in sets.items():
            assert set(df["label"]) == {0, 1}, f"{folder.name}/{name} lacks a class"
            assert (df["split"] == name).all()
        tested += sets["test"]["video_id"].tolist()
    assert sorted(tested) == sorted(all_ids)  # each video in exactly one test fold


def test_folds_are_stratified_by_class_and_method(ffpp: Path, tmp_path: Path) -> None:
    summary = make_folds([ffpp], tmp_path / "splits", folds=5, val_size=0.1, seed=3)
    rows = pd.read_csv(ffpp)
    overall = rows["label"].mean()
    for folder in summary.fold_dirs:
        test = _read(folder)["test"]
        assert abs(test["label"].mean() - overall) < 0.1
        assert set(METHODS) <= set(test["method"])  # every manipulation is tested in every fold
    sizes = [len(_read(f)["test"]) for f in summary.fold_dirs]
    assert max(sizes) - min(sizes) <= 5  # one FF++ group is 5 videos


def test_same_seed_same_files_other_seed_other_folds(ffpp: Path, tmp_path: Path) -> None:
    def contents(out: Path) -> dict[str, bytes]:
        return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}

    make_folds([ffpp], tmp_path / "a", folds=3, seed=7)
    make_folds([ffpp], tmp_path / "b", folds=3, seed=7)
    make_folds([ffpp], tmp_path / "c", folds=3, seed=8)
    a, b = contents(tmp_path / "a"), contents(tmp_path / "b")
    assert a == b and "fold_2/test.csv" in a and "folds.json" in a
    assert a["fold_0/test.csv"] != contents(tmp_path / "c")["fold_0/test.csv"]


def test_faces_files_resolve_from_each_fold_folder(ffpp: Path, tmp_path: Path) -> None:
    summary = make_folds([ffpp], tmp_path / "out" / "splits", folds=3, seed=0)
    for folder in summary.fold_dirs:
        csv = folder / "train.csv"
        df = pd.read_csv(csv)
        assert df["faces_file"].str.startswith("../../../data/faces/").all()
        assert all(resolve_faces_path(csv, f).is_file() for f in df["faces_file"])


def test_folds_json_describes_the_folds_and_read_folds_finds_them(ffpp: Path, tmp_path: Path) -> None:
    out = tmp_path / "splits"
    make_folds([ffpp], out, folds=3, val_size=0.2, seed=1)
    data = json.loads((out / "folds.json").read_text())
    assert data["kind"] == "folds" and data["k"] == 3 and data["seed"] == 1
    assert [f["dir"] for f in data["folds"]] == ["fold_0", "fold_1", "fold_2"]
    test_counts = [next(x for x in f["files"] if x["set"] == "test") for f in data["folds"]]
    assert sum(x["n_real"] + x["n_fake"] for x in test_counts) == data["videos"]["used"] == 170
    per_fold = json.loads((out / "fold_1" / "splits.json").read_text())
    assert [f["file"] for f in per_fold["files"]] == ["train.csv", "val.csv", "test.csv"]
    assert read_folds(out) == [out / "fold_0", out / "fold_1", out / "fold_2"]
    assert read_folds(tmp_path) is None  # a folder without folds.json is a plain split


def test_fewer_folds_or_no_val_leave_no_stale_files(ffpp: Path, tmp_path: Path) -> None:
    out = tmp_path / "splits"
    make_folds([ffpp], out, folds=4, seed=0)
    (out / "fold_0" / "notes.txt").write_text("mine")
    make_folds([ffpp], out, folds=2, val_size=0, seed=0)
    assert not (out / "fold_2").exists() and not (out / "fold_3").exists()
    assert not (out / "fold_0" / "val.csv").exists() and (out / "fold_0" / "notes.txt").exists()
    assert read_folds(out) == [out / "fold_0", out / "fold_1"]


def test_too_few_groups_is_a_clear_error(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "data", plain_rows(2, 1))
    with pytest.raises(DfdetectError, match=r"only 3 identity group\(s\).*--folds 3"):
        make_folds([manifest], tmp_path / "splits", folds=5)


def test_split_cli_with_folds(ffpp: Path, tmp_path: Path) -> None:
    runner = CliRunner(env={"COLUMNS": "120"})
    out = tmp_path / "splits"
    result = runner.invoke(app, ["split", str(ffpp), "--out", str(out), "--folds", "3", "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert "3 group folds (seed 2)" in result.stdout and "fold_2" in result.stdout
    assert "folds.json" in result.stderr
    assert (out / "fold_2" / "val.csv").exists()
    bad = runner.invoke(app, ["split", str(ffpp), "--out", str(out), "--folds", "3", "--test-size", "0.3"])
    assert bad.exit_code == 2 and "drop --test-size" in bad.output
    assert runner.invoke(app, ["split", str(ffpp), "--out", str(out), "--folds", "1"]).exit_code == 2


def test_official_splits_are_ignored_with_a_note(tmp_path: Path) -> None:
    rows = ffpp_rows(12, split_of=lambda g: "test" if g < 3 else "train")
    manifest = write_manifest(tmp_path / "data", rows)
    summary = make_folds([manifest], tmp_path / "splits", folds=3, seed=0)
    assert any("official splits are ignored" in w for w in summary.warnings)
    tested = sum(len(_read(f)["test"]) for f in summary.fold_dirs)
    assert tested == len(rows)


def test_more_folds_than_groups_is_a_usage_error_on_the_cli(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path / "data", plain_rows(8, 8))  # 16 groups
    result = CliRunner(env={"COLUMNS": "200"}).invoke(
        app, ["split", str(manifest), "--out", str(tmp_path / "splits"), "--folds", "20"])
    assert result.exit_code == 2, result.output  # like --folds 1: a K that cannot work is a bad option
    assert "only 16 identity group(s)" in result.output and not (tmp_path / "splits").exists()


def test_folds_into_a_plain_split_folder_replace_it_with_a_note_and_back(ffpp: Path, tmp_path: Path) -> None:
    from dfdetect.splitting import make_splits

    out = tmp_path / "splits"
    make_splits([ffpp], out, test_ratios="1:2", seed=0)
    (out / "mine.txt").write_text("kept")
    summary = make_folds([ffpp], out, folds=3, seed=0)
    # one layout per folder: the plain CSVs and splits.json are gone, the user's own file is not
    assert not any((out / n).exists() for n in ("train.csv", "val.csv", "test.csv", "test_1to2.csv", "splits.json"))
    assert (out / "mine.txt").read_text() == "kept" and read_folds(out) == summary.fold_dirs
    assert any("held a plain split" in w for w in summary.warnings)

    back = make_splits([ffpp], out, test_ratios="1:2", seed=0)
    assert read_folds(out) is None and not (out / "folds.json").exists()
    assert not any((out / f"fold_{i}").exists() for i in range(3))
    assert (out / "train.csv").exists() and (out / "test_1to2.csv").exists() and (out / "mine.txt").exists()
    assert any("held group folds" in w for w in back.warnings)
