"""`make_splits`: exact ratio counts, leakage freedom, stratification, determinism, official splits."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from _splitdata import METHODS, ffpp_rows, plain_rows, read, row, write_manifest
from dfdetect.errors import DfdetectError, UsageError
from dfdetect.manifest import MANIFEST_COLUMNS, resolve_faces_path
from dfdetect.splitting import make_splits, parse_ratio, parse_ratios
from dfdetect.splitting.ratios import RatioPlan, format_actual_ratio, plan_ratio


def ids(path: Path) -> set[str]:
    return set(read(path)["video_id"])


# --- ratios -------------------------------------------------------------------------------------

def test_parse_ratio_accepts_fake_real_pairs():
    assert parse_ratio("1:10") == (1, 10)
    assert parse_ratio(" 2 : 3 ") == (2, 3)
    assert parse_ratios("1:1,1:10,,1:10") == [(1, 1), (1, 10)]


@pytest.mark.parametrize("text, reason", [
    ("10:1:2", "not a ratio"), ("abc", "not a ratio"), ("1:-2", "not a ratio"), ("1.5:10", "not a ratio"),
    ("0:5", "no fake videos"), ("0:1", "no fake videos"), ("1:0", "no real videos"), ("0:0", "neither"),
])
def test_parse_ratio_rejects_with_reason(text, reason):
    with pytest.raises(UsageError, match=reason):
        parse_ratio(text)


def test_plan_ratio_floor_rule_and_short_fakes():
    assert plan_ratio(300, 40, (1, 10)) == RatioPlan(n_real=300, n_fake=30, reals_subsampled=False)
    assert plan_ratio(299, 40, (1, 10)).n_fake == 29  # floor: never milder than asked
    plan = plan_ratio(300, 40, (1, 1))  # fakes short: keep all fakes, cut reals
    assert (plan.n_real, plan.n_fake, plan.reals_subsampled) == (40, 40, True)
    assert plan_ratio(300, 40, (1, 400)).n_fake == 0
    assert format_actual_ratio(3, 300) == "1:100" and format_actual_ratio(80, 20) == "4:1"


# --- exact counts on an official test set of 300 reals and 40 fakes -------------------------------

@pytest.fixture
def official_data(tmp_path):
    rows = (plain_rows(300, 40, prefix="te_", split="test", methods=METHODS)
            + plain_rows(60, 60, prefix="tr_", split="train") + plain_rows(10, 10, prefix="va_", split="val"))
    return write_manifest(tmp_path / "DATA", rows)


def test_exact_counts_per_ratio(official_data, tmp_path):
    out = tmp_path / "SPLITS"
    summary = make_splits([official_data], out, test_ratios="1:1,1:10,1:20,1:30,1:100,1:200,1:400", seed=0)
    expected = {"1to10": (300, 30), "1to20": (300, 15), "1to30": (300, 10), "1to100": (300, 3),
                "1to200": (300, 1), "1to1": (40, 40)}
    test_ids = ids(out / "test.csv")
    for slug, (n_real, n_fake) in expected.items():
        df = read(out / f"test_{slug}.csv")
        assert Counter(df["label"]) == {"0": n_real, "1": n_fake}, slug
        assert set(df["video_id"]) <= test_ids
    # 1:10 keeps every real test video; 1:1 keeps every fake (fakes are short) and cuts reals.
    assert set(read(out / "test_1to10.csv").query("label == '0'")["video_id"]) == {f"te_real{i:04d}" for i in range(300)}
    assert len(read(out / "test_1to1.csv").query("label == '1'")) == 40
    assert not (out / "test_1to400.csv").exists()
    assert summary.skipped == [{"ratio": "1:400", "reason": summary.skipped[0]["reason"]}]
    assert any("1:400" in w for w in summary.warnings) and any("1:1: only 40 fake" in w for w in summary.warnings)
    table = {r["set"]: r for r in summary.table}
    assert table["test_1to100"]["ratio"] == "1:100" and table["test_1to100"]["n_fake"] == 3
    written = json.loads((out / "splits.json").read_text())
    assert [f["file"] for f in written["files"]][:3] == ["train.csv", "val.csv", "test.csv"]
    assert written["skipped"][0]["ratio"] == "1:400"


def test_subsampled_fakes_spread_over_methods(official_data, tmp_path):
    make_splits([official_data], tmp_path / "S", test_ratios=["1:10"], seed=3)
    methods = Counter(read(tmp_path / "S" / "test_1to10.csv").query("label == '1'")["method"])
    assert sorted(methods) == sorted(METHODS) and max(methods.values()) - min(methods.values()) <= 1


def test_repeats_differ_nest_and_r0_matches_single(official_data, tmp_path):
    make_splits([official_data], tmp_path / "K", test_ratios="1:10,1:100", repeats=3, seed=0)
    make_splits([official_data], tmp_path / "one", test_ratios="1:10", seed=0)
    fakes = {k: set(read(tmp_path / "K" / f"test_1to10_r{k}.csv").query("label == '1'")["video_id"]) for k in range(3)}
    assert len({frozenset(v) for v in fakes.values()}) == 3  # differently subsampled
    assert ids(tmp_path / "K" / "test_1to10_r0.csv") == ids(tmp_path / "one" / "test_1to10.csv")
    for k in range(3):  # 1:100 is a subset of 1:10 in the same repeat
        assert ids(tmp_path / "K" / f"test_1to100_r{k}.csv") <= ids(tmp_path / "K" / f"test_1to10_r{k}.csv")
    assert not (tmp_path / "K" / "test_1to10.csv").exists()


def test_fakes_min_turns_a_skip_into_an_error(official_data, tmp_path):
    with pytest.raises(DfdetectError, match=r"1:200 would hold 1 fake\(s\), below --fakes-min 2"):
        make_splits([official_data], tmp_path / "S", test_ratios="1:10,1:200", fakes_min=2)
    with pytest.raises(DfdetectError, match="1:400 would hold 0"):
        make_splits([official_data], tmp_path / "S", test_ratios="1:400", fakes_min=1)


def test_train_ratio_subsamples_train_fakes_only(official_data, tmp_path):
    out = tmp_path / "S"
    summary = make_splits([official_data], out, test_ratios=[], train_ratio="1:10", seed=0)
    assert Counter(read(out / "train.csv")["label"]) == {"0": 60, "1": 6}
    assert Counter(read(out / "val.csv")["label"]) == {"0": 10, "1": 10}
    assert summary.files[0].requested_ratio == "1:10" and summary.files[0].ratio == "1:10"


# --- official splits ------------------------------------------------------------------------------

def test_official_split_passes_through(official_data, tmp_path):
    out = tmp_path / "S"
    summary = make_splits([official_data], out, test_ratios=[])
    df = read(official_data)
    for name in ("train", "val", "test"):
        assert ids(out / f"{name}.csv") == set(df.loc[df["split"] == name, "video_id"])
        assert set(read(out / f"{name}.csv")["split"]) == {name}
    assert summary.sources == {"test": "official", "val": "official", "train": "official"}


def test_partial_official_test_splits_the_rest_by_group(tmp_path):
    # Celeb-DF style: only a test list. One unlisted fake shares its group with a listed real.
    rows = ffpp_rows(30, split_of=lambda g: "test" if g < 6 else "")
    rows.append(row("003_extra", 1, "003"))
    manifest = write_manifest(tmp_path / "DATA", rows)
    out = tmp_path / "S"
    summary = make_splits([manifest], out, test_ratios=[], val_size=0.1, seed=1)
    official_test = {r["video_id"] for r in rows if r["split"] == "test"}
    assert ids(out / "test.csv") == official_test
    assert "003_extra" not in ids(out / "train.csv") | ids(out / "val.csv")
    assert summary.excluded == {"shares a group with the official test set": 1}
    groups = {n: set(read(out / f"{n}.csv")["group"]) for n in ("train", "val", "test")}
    assert len(groups["val"]) == 3  # 10% of all 30 groups
    assert not (groups["train"] & groups["val"]) and not (groups["train"] | groups["val"]) & groups["test"]


def test_official_train_and_test_without_val_carves_val_from_train(tmp_path):
    rows = ffpp_rows(40, split_of=lambda g: "test" if g % 5 == 0 else "train")
    manifest = write_manifest(tmp_path / "DATA", rows)
    out = tmp_path / "S"
    summary = make_splits([manifest], out, test_ratios=[], val_size=0.1, seed=0)
    assert ids(out / "test.csv") == {r["video_id"] for r in rows if r["split"] == "test"}
    groups = {n: set(read(out / f"{n}.csv")["group"]) for n in ("train", "val", "test")}
    assert len(groups["val"]) == 4 and not groups["val"] & groups["train"] and not groups["val"] & groups["test"]
    assert summary.sources == {"test": "official", "train": "official + group split", "val": "group split"}


def test_groups_straddling_official_sets_never_leak(tmp_path):
    rows = ffpp_rows(30, split_of=lambda g: "test" if g < 6 else ("val" if g < 9 else ""))
    rows += [row("001_in_val", 1, "001", split="val"),  # official val, but its group is in official test
             row("007_unlisted", 1, "007")]  # no official split, its group is in official val
    manifest = write_manifest(tmp_path / "DATA", rows)
    out = tmp_path / "S"
    summary = make_splits([manifest], out, test_ratios=[], seed=0)
    assert "001_in_val" not in ids(out / "val.csv") and "007_unlisted" in ids(out / "val.csv")
    assert summary.excluded == {"shares a group with the official test set": 1}
    groups = {n: set(read(out / f"{n}.csv")["group"]) for n in ("train", "val", "test")}
    assert not groups["train"] & groups["val"] and not groups["val"] & groups["test"]
    assert not groups["train"] & groups["test"]


def test_resplit_ignores_official_split(official_data, tmp_path):
    out = tmp_path / "S"
    summary = make_splits([official_data], out, test_ratios=[], resplit=True, seed=0)
    assert ids(out / "test.csv") != set(read(official_data).query("split == 'test'")["video_id"])
    assert summary.sources["test"] == "group split"
    assert len(set(read(out / "test.csv")["group"])) == round(0.2 * 480)


# --- group split: leakage and stratification --------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_group_in_two_sets_on_ffpp_style_data(tmp_path, seed):
    manifest = write_manifest(tmp_path / "DATA", ffpp_rows(40))
    out = tmp_path / "S"
    make_splits([manifest], out, test_ratios="1:1,1:2", seed=seed)
    sets = {n: read(out / f"{n}.csv") for n in ("train", "val", "test")}
    groups = {n: set(df["group"]) for n, df in sets.items()}
    assert not (groups["train"] & groups["val"]) and not (groups["train"] & groups["test"])
    assert not (groups["val"] & groups["test"])
    # Every fake sits with its source real: each group keeps all 5 of its videos in one set.
    for df in sets.values():
        assert set(df.groupby("group").size()) == {5}
    assert sum(len(df) for df in sets.values()) == 200
    assert (len(groups["test"]), len(groups["val"])) == (8, 4)
    for slug in ("1to1", "1to2"):
        assert set(read(out / f"test_{slug}.csv")["group"]) <= groups["test"]


def test_stratified_by_group_composition(tmp_path):
    rows = plain_rows(40, 20) + ffpp_rows(30, fakes_per_group=2)  # 40 real-only, 20 fake-only, 30 mixed
    manifest = write_manifest(tmp_path / "DATA", rows)
    make_splits([manifest], tmp_path / "S", test_ratios=[], test_size=0.2, val_size=0.1, seed=5)
    n = 90
    for name, frac in (("test", 0.2), ("val", 0.1), ("train", 0.7)):
        df = read(tmp_path / "S" / f"{name}.csv")
        per_group = df.groupby("group")["label"].agg(lambda s: "".join(sorted(set(s))))
        kinds = Counter(per_group.map({"0": "real", "1": "fake", "01": "mixed"}))
        assert sum(kinds.values()) == round(frac * n)
        for kind, total in (("real", 40), ("fake", 20), ("mixed", 30)):
            assert abs(kinds[kind] - frac * total) <= 1, (name, kind, kinds)


def test_tiny_data_still_gives_every_set_both_classes(tmp_path):
    manifest = write_manifest(tmp_path / "DATA", plain_rows(9, 3))
    for seed in range(6):
        make_splits([manifest], tmp_path / f"S{seed}", test_ratios=[], seed=seed)
        for name in ("train", "val", "test"):
            assert set(read(tmp_path / f"S{seed}" / f"{name}.csv")["label"]) == {"0", "1"}


def test_too_few_groups_of_a_class_is_an_error(tmp_path):
    manifest = write_manifest(tmp_path / "DATA", plain_rows(10, 2))
    with pytest.raises(DfdetectError, match="2 hold fakes"):
        make_splits([manifest], tmp_path / "S", test_ratios=[])
    summary = make_splits([manifest], tmp_path / "S", test_ratios=[], val_size=0)
    assert [f.file for f in summary.files] == ["train.csv", "test.csv"]


# --- paths, determinism, inputs --------------------------------------------------------------------

def test_faces_file_resolves_from_the_splits_folder(tmp_path):
    manifest = write_manifest(tmp_path / "DATA", ffpp_rows(10))
    out = tmp_path / "deep" / "er" / "SPLITS"
    make_splits([manifest], out, test_ratios="1:2")
    for csv in out.glob("*.csv"):
        for vid, faces_file in read(csv)[["video_id", "faces_file"]].itertuples(index=False):
            assert faces_file == f"../../../DATA/faces/{vid}.npy"
            resolved = resolve_faces_path(csv, faces_file)
            assert resolved.samefile(tmp_path / "DATA" / "faces" / f"{vid}.npy")
            assert np.load(resolved, mmap_mode="r").shape == (2, 4, 4, 3)


def test_same_seed_gives_byte_identical_files(tmp_path):
    manifest = write_manifest(tmp_path / "DATA", ffpp_rows(30) + plain_rows(20, 5))
    kwargs = dict(test_ratios="1:1,1:3,1:10", repeats=2, train_ratio="1:2")
    make_splits([manifest], tmp_path / "A", seed=7, **kwargs)
    make_splits([manifest], tmp_path / "B", seed=7, **kwargs)
    make_splits([manifest], tmp_path / "C", seed=8, **kwargs)
    names = sorted(p.name for p in (tmp_path / "A").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "B").iterdir()) and "splits.json" in names
    for name in names:
        assert (tmp_path / "A" / name).read_bytes() == (tmp_path / "B" / name).read_bytes(), name
    assert (tmp_path / "A" / "test.csv").read_bytes() != (tmp_path / "C" / "test.csv").read_bytes()


def test_manifest_row_order_does_not_change_the_splits(tmp_path):
    # Parallel extraction writes rows in completion order; the splits must not depend on it.
    rows = ffpp_rows(20) + plain_rows(30, 6)
    forward = write_manifest(tmp_path / "DATA", rows)
    shuffled = tmp_path / "DATA" / "shuffled.csv"
    read(forward).sample(frac=1.0, random_state=3).to_csv(shuffled, index=False)
    kwargs = dict(test_ratios="1:1,1:5", repeats=2, train_ratio="1:2", seed=4)
    make_splits([forward], tmp_path / "A", **kwargs)
    make_splits([shuffled], tmp_path / "B", **kwargs)
    for name in sorted(p.name for p in (tmp_path / "A").glob("*.csv")):
        assert (tmp_path / "A" / name).read_bytes() == (tmp_path / "B" / name).read_bytes(), name


def test_status_filtering_duplicates_and_stale_files(tmp_path):
    rows = ffpp_rows(12) + [row("broken", 0, "broken", status="no_face"), row("crashed", 1, "x", status="error")]
    rows[-1]["label"] = ""  # excluded rows are not label-checked
    manifest = write_manifest(tmp_path / "DATA", rows)
    out = tmp_path / "S"
    make_splits([manifest], out, test_ratios="1:1", repeats=3)
    summary = make_splits([manifest], out, test_ratios="1:1")
    assert summary.excluded == {"error": 1, "no_face": 1} and summary.n_used == 60
    assert sorted(p.name for p in out.glob("test_*")) == ["test_1to1.csv"]  # _r0.._r2 removed
    dup = write_manifest(tmp_path / "D2", ffpp_rows(12) + [row("000", 0, "000")])
    with pytest.raises(DfdetectError, match="duplicate video_id 000"):
        make_splits([dup], tmp_path / "S2")


def test_only_the_needed_columns_are_required(tmp_path):
    manifest = write_manifest(tmp_path / "DATA", ffpp_rows(10))
    df = read(manifest)[["video_id", "label", "group", "faces_file", "status"]]
    df.to_csv(manifest, index=False)
    out = tmp_path / "S"
    make_splits([manifest], out, test_ratios="1:1")
    written = read(out / "test_1to1.csv")
    assert list(written.columns) == MANIFEST_COLUMNS
    assert set(written["split"]) == {"test"} and Counter(written["label"]) == {"0": 2, "1": 2}


def test_manifest_parts_by_glob_and_folder(tmp_path):
    data = tmp_path / "DATA"
    rows = ffpp_rows(20)
    write_manifest(data, rows[:50], "manifest.part-0-of-2.csv")
    write_manifest(data, rows[50:], "manifest.part-1-of-2.csv")
    a = make_splits([str(data / "manifest.part-*.csv")], tmp_path / "A", test_ratios=[])
    b = make_splits([data], tmp_path / "B", test_ratios=[])
    assert a.n_used == b.n_used == 100 and len(a.manifests) == 2
    write_manifest(data, rows, "manifest.csv")  # merged + parts together: duplicates
    with pytest.raises(DfdetectError, match="not both"):
        make_splits([str(data / "manifest*.csv")], tmp_path / "C")
