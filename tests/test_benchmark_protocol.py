"""`benchmark --protocol paper`: draws at each ratio from disjoint groups, the cached synthetic
pool, and a tiny run end to end."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from dfdetect.benchmarking import paper_data
from dfdetect.benchmarking.paper_data import build_pool, draw_sets, pool_spec_for
from dfdetect.cli import app

ENV = {"COLUMNS": "250"}


@pytest.fixture(scope="module")
def small_pool(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cache")
    spec = pool_spec_for([(1, 3), (1, 5)], train_fakes=8, test_fakes=10, fake_pool=2, frames=2, size=64, seed=1)
    folder, reused = build_pool(spec, root)
    assert not reused
    return root, folder


@pytest.mark.parametrize("ratio", [(1, 3), (1, 5)])
def test_train_and_test_at_the_same_ratio_from_disjoint_groups(small_pool, tmp_path: Path, ratio) -> None:
    _, pool = small_pool
    draw = draw_sets(pool, ratio, n_train_fake=8, n_test_fake=10, seed=4, out_dir=tmp_path / "d", name="x")
    train, test = pd.read_csv(draw.train_csv), pd.read_csv(draw.test_csv)
    k = ratio[1]
    assert (train["label"] == 1).sum() == 8 and (train["label"] == 0).sum() == 8 * k
    assert (test["label"] == 1).sum() == 10 and (test["label"] == 0).sum() == 10 * k
    assert draw.train_counts == (8 * k, 8) and draw.test_counts == (10 * k, 10)
    assert not set(train["group"]) & set(test["group"])
    assert train["video_id"].is_unique and test["video_id"].is_unique
    # absolute faces_file, readable stacks of the pool's shape
    import numpy as np

    stack = np.load(test["faces_file"].iloc[0])
    assert stack.shape == (2, 64, 64, 3) and stack.dtype == np.uint8


def test_seeds_draw_different_sets_and_a_seed_draws_the_same(small_pool, tmp_path: Path) -> None:
    _, pool = small_pool
    a = draw_sets(pool, (1, 3), 8, 10, seed=0, out_dir=tmp_path / "a", name="a")
    b = draw_sets(pool, (1, 3), 8, 10, seed=0, out_dir=tmp_path / "b", name="b")
    c = draw_sets(pool, (1, 3), 8, 10, seed=1, out_dir=tmp_path / "c", name="c")
    ids = [set(pd.read_csv(d.train_csv)["video_id"]) for d in (a, b, c)]
    assert ids[0] == ids[1] and ids[0] != ids[2]


def test_a_ratio_the_pool_cannot_hold_is_refused(small_pool, tmp_path: Path) -> None:
    from dfdetect.errors import DfdetectError

    _, pool = small_pool
    with pytest.raises(DfdetectError, match=r"train pool holds 40 real .* needs 80"):
        draw_sets(pool, (1, 10), 8, 10, seed=0, out_dir=tmp_path / "x", name="x")


def test_pool_is_cached_and_invalidated_when_parameters_change(small_pool, monkeypatch) -> None:
    root, folder = small_pool
    spec = pool_spec_for([(1, 3), (1, 5)], train_fakes=8, test_fakes=10, fake_pool=2, frames=2, size=64, seed=1)
    stamp = (folder / "pool.csv").stat().st_mtime_ns
    again, reused = build_pool(spec, root)
    assert reused and again == folder and (folder / "pool.csv").stat().st_mtime_ns == stamp
    # another parameter or another package version: another key, generated afresh
    harder = pool_spec_for([(1, 3)], train_fakes=8, test_fakes=10, fake_pool=2, frames=2, size=64, seed=1,
                           difficulty=0.5)
    assert harder.key() != spec.key()
    old_key = spec.key()
    monkeypatch.setattr(paper_data, "__version__", "0.0.0-other")
    assert spec.key() != old_key
    other, reused = build_pool(spec, root)
    assert not reused and other != folder and (other / "pool.csv").is_file()


@pytest.fixture(scope="module")
def paper_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("paper")
    args = ["benchmark", "--protocol", "paper", "--ratios", "1:2,1:4", "--models", "meso4", "--losses", "bce,auc+fb",
            "--seeds", "2", "--steps", "3", "--epochs", "1", "--batch-size", "8", "--frames", "2", "--jobs", "2",
            "--device", "cpu", "--seed", "5"]
    env = {**ENV, "DFDETECT_CACHE": str(base / "cache")}
    first = CliRunner().invoke(app, [*args, "--out", str(base / "one")], env=env)
    second = CliRunner().invoke(app, [*args, "--out", str(base / "two")], env=env)
    return {"base": base, "first": first, "second": second}


def test_tiny_paper_protocol_end_to_end(paper_run: dict) -> None:
    r, out = paper_run["first"], paper_run["base"] / "one"
    assert r.exit_code == 0, r.output
    assert "1:2" in r.stdout and "1:4" in r.stdout and "auc+fb" in r.stdout and "meso4" in r.stdout
    rows = pd.read_csv(out / "results.csv")
    assert len(rows) == 1 * 2 * 2 * 2  # models × losses × ratios × seeds
    assert set(rows["loss"]) == {"bce", "auc+fb"} and set(rows["seed"]) == {5, 6}
    # trained and tested at the same ratio, with at least the minimum fakes
    assert (rows["train_real"] == rows["train_fake"] * rows["real_per_fake"]).all()
    assert (rows["test_real"] == rows["test_fake"] * rows["real_per_fake"]).all()
    assert (rows["train_fake"] >= 8).all() and (rows["test_fake"] >= 10).all()
    assert rows["auc"].between(0, 1).all()
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 4 and (summary["seeds"] == 2).all()
    assert ((summary["auc_lo"] <= summary["auc"]) & (summary["auc"] <= summary["auc_hi"])).all()
    assert (out / "auc_vs_ratio.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "built synthetic pool" in r.stderr


def test_second_run_reuses_the_pool_and_repeats_the_numbers(paper_run: dict) -> None:
    r = paper_run["second"]
    assert r.exit_code == 0, r.output
    assert "reusing synthetic pool" in r.stderr and "rendering" not in r.stderr
    one = pd.read_csv(paper_run["base"] / "one" / "results.csv")
    two = pd.read_csv(paper_run["base"] / "two" / "results.csv")
    pd.testing.assert_series_equal(one["auc"], two["auc"])


def test_paper_protocol_refuses_data_and_too_few_fakes(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["benchmark", "--protocol", "paper", "--data", str(tmp_path)], env=ENV)
    assert r.exit_code == 2 and "draws its own synthetic data" in r.stderr
    r = CliRunner().invoke(app, ["benchmark", "--protocol", "paper", "--losses", "auc+xx"], env=ENV)
    assert r.exit_code == 2 and "unknown modifier '+xx'" in r.stderr
    r = CliRunner().invoke(app, ["benchmark", "--protocol", "nope"], env=ENV)
    assert r.exit_code == 2 and "--protocol must be one of" in r.stderr


@pytest.mark.parametrize(("args", "words"), [
    (["--ratios", "1:1"], "the widest ratio must hold at least 4 reals per fake (1:4 or wider"),
    (["--ratios", "abc"], "--ratios: 'abc' is not a ratio"),
    (["--ratios", "1:4,1:10,1:4"], "--ratios: '1:4' given twice"),
    (["--losses", "bce,bce"], "--losses: 'bce' given twice"),
    (["--models", "meso4,cnn,meso4"], "--models: 'meso4' given twice"),
])
def test_paper_protocol_refuses_bad_ratios_and_duplicates_before_any_work(tmp_path: Path, args, words) -> None:
    r = CliRunner().invoke(app, ["benchmark", "--protocol", "paper", *args, "--out", str(tmp_path / "out")],
                           env={**ENV, "DFDETECT_CACHE": str(tmp_path / "cache")})
    assert r.exit_code == 2 and words in r.stderr, r.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()


def test_library_accepts_a_narrow_ratio_beside_a_wide_one() -> None:
    from dfdetect.benchmarking.paper import PaperOptions, check_paper_options

    assert check_paper_options(PaperOptions(models=["meso4"], ratios=["1:1", "1:10"])) == [(1, 1), (1, 10)]


def test_a_failed_pool_build_leaves_no_partial_folder(tmp_path: Path) -> None:
    from dfdetect.benchmarking.paper_data import PoolSpec
    from dfdetect.errors import DfdetectError, UsageError

    with pytest.raises(UsageError, match="at least as many real as fake train clips"):
        build_pool(PoolSpec(n_train_real=2, n_train_fake=4, n_test_real=4, n_test_fake=2), tmp_path)
    with pytest.raises(DfdetectError, match="n_frames must be at least 1"):  # fails while rendering the first clip
        build_pool(PoolSpec(n_train_real=2, n_train_fake=1, n_test_real=2, n_test_fake=1, frames=0), tmp_path)
    assert not list(tmp_path.rglob("*.partial-*")) and not list(tmp_path.rglob("pool.csv"))
