"""AUC confidence intervals: DeLong for videos, a bootstrap over videos for frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from typer.testing import CliRunner

from dfdetect.evaluation.intervals import auc_with_ci, cluster_bootstrap_auc_ci, delong_auc_variance
from dfdetect.evaluation.metrics import compute_metrics, frame_video_index, frames_with_video_labels

from _evaldata import save_tiny_checkpoint, write_test_set


def _brute_force_delong(y: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    """DeLong's variance from its definition: the (fake, real) pair matrix psi."""
    pos, neg = s[y == 1], s[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return float(psi.mean()), float(v10.var(ddof=1) / pos.size + v01.var(ddof=1) / neg.size)


def test_delong_by_hand_on_four_videos() -> None:
    # fakes 0.35 and 0.8 beat half and all of the reals (0.1, 0.4): V10 = [0.5, 1], V01 = [1, 0.5]
    auc, var = delong_auc_variance([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert auc == pytest.approx(0.75) and var == pytest.approx(0.125)
    ci = auc_with_ci([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert ci.se == pytest.approx(0.125**0.5)
    assert ci.lo == pytest.approx(0.75 - 1.959964 * 0.125**0.5) and ci.hi == 1.0  # clipped to [0, 1]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_delong_equals_the_pair_matrix_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 150)
    s = np.round(rng.normal(size=150) + y, 1)  # rounding makes ties
    assert delong_auc_variance(y, s) == pytest.approx(_brute_force_delong(y, s), rel=1e-10)


def test_delong_interval_covers_the_true_auc_about_95_percent_of_the_time() -> None:
    # binormal scores, fakes shifted by d: the true AUC is Phi(d / sqrt(2))
    d, truth = 1.0, float(norm.cdf(1.0 / np.sqrt(2.0)))
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(400):
        y = np.r_[np.zeros(60, int), np.ones(40, int)]
        s = rng.normal(size=100) + d * y
        ci = auc_with_ci(y, s)
        hits += ci.lo <= truth <= ci.hi
    assert 0.91 <= hits / 400 <= 0.99


def test_one_class_has_no_interval() -> None:
    assert auc_with_ci([1, 1, 1], [0.2, 0.5, 0.9]) is None
    assert cluster_bootstrap_auc_ci([0, 0], [0.2, 0.5], [0, 1]) is None
    m = compute_metrics([0, 0], [0.2, 0.3])
    assert m["auc_lo"] is None and m["auc_hi"] is None


def _correlated_frames(seed: int, n_videos: int = 60, n_frames: int = 20):
    """Frames share their video's offset: they are far from independent."""
    rng = np.random.default_rng(seed)
    video_y = np.repeat([0, 1], n_videos // 2)
    video_effect = rng.normal(size=n_videos) + 0.8 * video_y
    y = np.repeat(video_y, n_frames)
    s = np.repeat(video_effect, n_frames) + 0.3 * rng.normal(size=n_videos * n_frames)
    return y, s, np.repeat(np.arange(n_videos), n_frames)


def test_frame_bootstrap_resamples_videos_not_frames() -> None:
    y, s, videos = _correlated_frames(0)
    frame = cluster_bootstrap_auc_ci(y, s, videos, seed=0)
    naive = auc_with_ci(y, s)  # treats 1200 frames as independent
    assert frame.auc == pytest.approx(naive.auc)
    assert frame.lo < frame.auc < frame.hi
    assert (frame.hi - frame.lo) > 3 * (naive.hi - naive.lo)
    assert frame.n_real == 30 and frame.n_fake == 30  # counted in videos


def test_bootstrap_with_one_sample_per_video_agrees_with_delong() -> None:
    rng = np.random.default_rng(3)
    y = np.r_[np.zeros(80, int), np.ones(70, int)]
    s = rng.normal(size=150) + 1.0 * y
    boot = cluster_bootstrap_auc_ci(y, s, np.arange(150), n_boot=2000, seed=0)
    delong = auc_with_ci(y, s)
    assert boot.lo == pytest.approx(delong.lo, abs=0.02) and boot.hi == pytest.approx(delong.hi, abs=0.02)


def test_bootstrap_is_seeded_and_checks_its_groups() -> None:
    y, s, videos = _correlated_frames(1)
    a = cluster_bootstrap_auc_ci(y, s, videos, seed=5)
    assert a == cluster_bootstrap_auc_ci(y, s, videos, seed=5)
    assert a != cluster_bootstrap_auc_ci(y, s, videos, seed=6)
    with pytest.raises(ValueError, match="group's label"):
        cluster_bootstrap_auc_ci([0, 1, 1], [0.1, 0.2, 0.3], [0, 0, 1])


def test_compute_metrics_reports_both_intervals() -> None:
    frames = [np.array([0.1, 0.5]), np.array([0.2]), np.array([0.7, 0.6, 0.9]), np.array([0.4, 0.8])]
    labels = [0, 0, 1, 1]
    flab, fscore = frames_with_video_labels(labels, frames)
    assert frame_video_index(frames).tolist() == [0, 0, 1, 2, 2, 2, 3, 3]
    m = compute_metrics(labels, [0.2, 0.2, 0.75, 0.6], flab, fscore, frame_videos=frame_video_index(frames))
    # a perfect ranking of 2 + 2 videos: Hanley–McNeil still gives a (wide) lower bound, not zero width
    assert m["auc"] == 1.0 and 0.0 < m["auc_lo"] < 0.5 and m["auc_hi"] == 1.0
    assert m["frame_auc_lo"] <= m["frame_auc"] <= m["frame_auc_hi"]
    assert m["frame_auc_lo"] < m["frame_auc_hi"]


def test_eval_writes_the_intervals_to_results_table_and_plot(tmp_path: Path) -> None:
    from dfdetect.cli import app

    save_tiny_checkpoint(tmp_path / "run" / "best.ckpt")
    sets = [write_test_set(tmp_path, "test", [0] * 6 + [1] * 6, seed=1),
            write_test_set(tmp_path, "test_1to2", [0, 0, 0, 0, 1, 1], seed=2),
            write_test_set(tmp_path, "test_1to5", [0] * 5 + [1], seed=3)]
    out, plots = tmp_path / "results.csv", tmp_path / "plots"
    result = CliRunner().invoke(app, ["eval", str(tmp_path / "run"), *map(str, sets), "--out", str(out),
                                      "--plot", str(plots), "--device", "cpu"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "AUC 95%" in result.stdout and "fAUC 95%" in result.stdout
    res = pd.read_csv(out).set_index("set")
    scores_ok = res.loc["test"]
    assert scores_ok["auc_lo"] <= scores_ok["auc"] <= scores_ok["auc_hi"]
    assert scores_ok["frame_auc_lo"] <= scores_ok["frame_auc"] <= scores_ok["frame_auc_hi"]
    shown = f"{scores_ok['auc_lo']:.2f}-{scores_ok['auc_hi']:.2f}"
    assert shown in result.stdout
    # one fake: an AUC but no interval (an empty cell), n/a in the table and a note saying why
    one_fake = res.loc["test_1to5"]
    assert 0 <= one_fake["auc"] <= 1 and one_fake[["auc_lo", "auc_hi", "frame_auc_lo", "frame_auc_hi"]].isna().all()
    assert one_fake["note"] == "no 95% interval: 1 fake and 5 real videos; an interval needs at least 2 of each"
    assert "test_1to5 *" in result.stdout and "no 95% interval: 1 fake" in result.stdout
    assert "n/a" in next(line for line in result.stdout.splitlines() if "test_1to5 *" in line)
    assert (plots / "auc_vs_ratio.png").read_bytes()[:4] == b"\x89PNG"


def test_auc_vs_ratio_plot_draws_asymmetric_interval_bars(tmp_path: Path) -> None:
    from dfdetect.report.plots import _error_bar, plot_auc_vs_ratio

    assert _error_bar(0.8, None, 0.7, 0.95) == pytest.approx((0.1, 0.15))
    assert _error_bar(0.8, 0.05, None, None) == (0.05, 0.05)
    path = plot_auc_vs_ratio({"ci": [(1, 0.8, None, 0.7, 0.95), (10, 0.7, 0.05, None, None)],
                              "old": [(1, 0.6, 0.1)]}, tmp_path / "r.png")
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_a_set_without_interval_gets_no_bar_and_a_note(tmp_path: Path) -> None:
    from dfdetect.report.plots import _error_bar, interval_gaps, plot_auc_vs_ratio

    series = {"cnn": [(1, 0.8, None, 0.7, 0.9), (200, 0.9, None, None, None), (10, 0.7, 0.05, None, None)]}
    assert _error_bar(0.9, None, None, None) == (0.0, 0.0)
    assert interval_gaps(series) == "no error bar at 1:200: fewer than two fake or real videos, so no honest interval"
    assert interval_gaps({"a": [(1, 0.8, None, 0.7, 0.9)], "b": [(4, 0.6, None, None, None)]}).startswith(
        "no error bar at 1:4 (b):")
    assert interval_gaps({"a": [(1, 0.8, None, 0.7, 0.9), (4, 0.7, 0.1, None, None)]}) == ""
    assert plot_auc_vs_ratio(series, tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"


def _identity_groups(seed: int, n_groups: int = 25, per_group: int = 6):
    """Videos of one identity share an offset (reals and fakes alike), as in pooled FF++ folds.
    Groups alternate between mostly fake and mostly real, so the offsets do not cancel out."""
    rng = np.random.default_rng(seed)
    group = np.repeat(np.arange(n_groups), per_group)
    mostly_fake, mostly_real = np.r_[0, np.ones(per_group - 1, int)], np.r_[1, np.zeros(per_group - 1, int)]
    y = np.concatenate([mostly_fake if i % 2 else mostly_real for i in range(n_groups)])
    s = rng.normal(size=n_groups)[group] * 1.5 + 0.8 * y + 0.3 * rng.normal(size=group.size)
    return y, s, group


def test_group_bootstrap_equals_weighted_auc_of_each_resample() -> None:
    from sklearn.metrics import roc_auc_score

    from dfdetect.evaluation.intervals import group_bootstrap_auc_ci

    y, s, group = _identity_groups(0, n_groups=8)
    ci = group_bootstrap_auc_ci(y, s, group, n_boot=200, seed=3)
    assert ci.auc == pytest.approx(roc_auc_score(y, s)) and ci.method == "group bootstrap"
    # the same draws by brute force: a drawn group's videos weigh as often as it was drawn
    c = np.random.default_rng(3).multinomial(8, np.full(8, 1 / 8), size=200)
    boot = [roc_auc_score(y, s, sample_weight=row[group]) for row in c]
    assert (ci.lo, ci.hi) == pytest.approx(tuple(np.quantile(boot, [0.025, 0.975])))
    assert ci == group_bootstrap_auc_ci(y, s, group, n_boot=200, seed=3)


def test_group_bootstrap_is_wider_than_delong_when_groups_share_scores() -> None:
    from dfdetect.evaluation.intervals import group_bootstrap_auc_ci

    y, s, group = _identity_groups(1)
    by_group = group_bootstrap_auc_ci(y, s, group)
    delong = auc_with_ci(y, s)  # treats 150 videos as independent
    assert by_group.lo <= by_group.auc <= by_group.hi
    assert (by_group.hi - by_group.lo) > 1.3 * (delong.hi - delong.lo)
    assert by_group.n_real + by_group.n_fake == 150


def test_group_bootstrap_needs_two_groups_per_class() -> None:
    from dfdetect.evaluation.intervals import group_bootstrap_auc_ci

    # all fakes in one identity group: no spread between groups to resample
    ci = group_bootstrap_auc_ci([0, 0, 1, 1, 0], [0.1, 0.2, 0.8, 0.7, 0.3], ["a", "b", "c", "c", "c"])
    assert ci.auc == 1.0 and ci.lo is None and ci.hi is None and "identity group" in ci.note
    assert group_bootstrap_auc_ci([0, 0], [0.1, 0.2], ["a", "b"]) is None
    with pytest.raises(ValueError, match="differ in length"):
        group_bootstrap_auc_ci([0, 1], [0.1, 0.2], ["a"])


def test_one_fake_or_one_real_gets_no_interval() -> None:
    # the case: one fake among 204 reals gave "0.897 [0.855, 0.939]", an interval of the reals only
    rng = np.random.default_rng(0)
    y, s = np.r_[np.zeros(204, int), 1], 1 / (1 + np.exp(-np.r_[rng.normal(size=204), 1.3]))  # probabilities
    for method in ("delong", "hanley-mcneil", "auto"):
        ci = auc_with_ci(y, s, method=method)
        assert 0.8 < ci.auc < 1 and ci.lo is None and ci.hi is None and "1 fake and 204 real" in ci.note
    assert auc_with_ci(1 - y, s).lo is None  # one real among fakes
    m = compute_metrics(y, s)
    assert m["auc"] == pytest.approx(auc_with_ci(y, s).auc) and m["auc_lo"] is None and m["auc_hi"] is None
    assert "needs at least 2 of each" in m["note"]
    # frames of one fake video: resampling it always draws it, so no frame interval either
    frames = cluster_bootstrap_auc_ci(np.r_[y, 1, 1], np.r_[s, 0.9, 0.8], np.r_[np.arange(205), 204, 204])
    assert frames.lo is None and frames.hi is None and frames.n_fake == 1
    with pytest.raises(ValueError, match="unknown interval method"):
        auc_with_ci(y, s, method="wilson")


def test_hanley_mcneil_variance_by_hand() -> None:
    from dfdetect.evaluation.intervals import hanley_mcneil_variance

    # A = 0.75, 2 fakes, 2 reals: Q1 = 0.6, Q2 = 2(0.5625)/1.75; (A(1-A) + (Q1-A²) + (Q2-A²)) / 4
    expected = (0.1875 + (0.6 - 0.5625) + (2 * 0.5625 / 1.75 - 0.5625)) / 4
    assert hanley_mcneil_variance(0.75, 2, 2) == pytest.approx(expected)
    ci = auc_with_ci([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], method="hanley-mcneil")
    assert ci.se == pytest.approx(expected**0.5) and 0 < ci.lo < 0.75 < ci.hi < 1  # logit scale: inside (0, 1)


def test_with_five_fakes_auto_covers_where_delong_does_not() -> None:
    # true AUC 0.76 (binormal), 5 fakes among 200 reals, as in benchmarks/interval_coverage.py
    d, truth = float(np.sqrt(2) * norm.ppf(0.76)), 0.76
    rng = np.random.default_rng(1)
    hits = {"delong": 0, "auto": 0}
    for _ in range(300):
        y = np.r_[np.zeros(200, int), np.ones(5, int)]
        s = rng.normal(size=205) + d * y
        for method in hits:
            ci = auc_with_ci(y, s, method=method)
            hits[method] += ci.lo <= truth <= ci.hi
    assert hits["delong"] / 300 < 0.9 <= 0.93 <= hits["auto"] / 300


def test_frame_interval_switches_to_hanley_mcneil_on_video_counts_below_30_videos() -> None:
    from dfdetect.evaluation.intervals import frame_auc_ci

    y, s, videos = _correlated_frames(2, n_videos=20)  # 10 real, 10 fake videos
    small = frame_auc_ci(y, s, videos)
    assert small.method == "hanley-mcneil (videos)" and (small.n_real, small.n_fake) == (10, 10)
    assert small.auc == pytest.approx(auc_with_ci(y, s).auc) and small.lo < small.auc < small.hi
    assert small.se == pytest.approx(hanley_se(small.auc, 10, 10))  # 10 + 10 units, not 200 + 200 frames
    y, s, videos = _correlated_frames(2, n_videos=60, n_frames=5)
    assert frame_auc_ci(y, s, videos) == cluster_bootstrap_auc_ci(y, s, videos, 0.95, 1000, 0)  # 30 + 30: bootstrap


def hanley_se(auc: float, n_fake: int, n_real: int) -> float:
    from dfdetect.evaluation.intervals import hanley_mcneil_variance

    return hanley_mcneil_variance(auc, n_fake, n_real) ** 0.5
