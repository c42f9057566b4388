"""How often do the AUC intervals cover the true AUC with few fakes? DeLong against Hanley–McNeil.

    python benchmarks/interval_coverage.py                       # 1, 2, 5, 10, 30 fakes among 200 reals
    python benchmarks/interval_coverage.py --auc 0.95 --trials 500

Scores come from two unit normals (fakes shifted by d), so the true AUC is Phi(d / sqrt 2). For each
number of fakes, every trial draws a fresh test set and asks dfdetect.evaluation.intervals for its
nominal 95 % interval by DeLong and by Hanley–McNeil on the logit scale ("auto", what `eval` uses,
picks the latter below DELONG_MIN_CLASS videos in the smaller class). It prints the share of trials
whose interval holds the true AUC (coverage; 0.95 is right) and the median width. With one fake
there is no interval at all (dfdetect reports n/a); the "1" row shows what DeLong's would have been.

`--groups G` (default 25) adds a second table for pooled out-of-fold AUC over identity groups: G groups of six
videos whose scores share a group offset (sd 1), with 1 to 5 fakes per group, so the offsets do
not cancel out. It compares DeLong (videos taken as independent) with `group_bootstrap_auc_ci`
(whole groups resampled); the truth is the mean pooled AUC over as many fresh draws.

`--frames 2,5,10,30` adds a table for the frame AUC: that many fake videos among 50 real ones, 8
frames each (a video offset, sd 1, plus frame noise, sd 0.5); the cluster bootstrap over videos
against `frame_auc_ci` (what `eval` reports: Hanley–McNeil with video counts below 30 videos).

Seeded: the same arguments print the same table.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

METHODS = ("delong", "hanley-mcneil")


def delong_ignoring_minimum(y: np.ndarray, s: np.ndarray, z: float) -> tuple[float, float]:
    """DeLong's interval as dfdetect computed it before it refused one-fake sets (fake-side
    variance 0): shown only to measure how badly it covered."""
    from dfdetect.evaluation.intervals import delong_auc_variance

    auc, var = delong_auc_variance(y, s)
    half = z * float(np.sqrt(max(var, 0.0)))
    return max(0.0, auc - half), min(1.0, auc + half)


def coverage(n_fake: int, n_real: int, truth: float, trials: int, seed: int) -> dict[str, tuple[float, float, int]]:
    """{method: (coverage, median width, trials with an interval)} over `trials` simulated sets."""
    from scipy.stats import norm

    from dfdetect.evaluation.intervals import auc_with_ci

    d, z = float(np.sqrt(2.0) * norm.ppf(truth)), float(norm.ppf(0.975))
    rng = np.random.default_rng([seed, n_fake, n_real])
    y = np.r_[np.zeros(n_real, dtype=np.int64), np.ones(n_fake, dtype=np.int64)]
    hits: dict[str, list[tuple[bool, float]]] = {m: [] for m in METHODS}
    for _ in range(trials):
        s = rng.normal(size=y.size) + d * y
        for method in METHODS:
            ci = auc_with_ci(y, s, method=method)
            if ci.lo is None and method == "delong":
                lo, hi = delong_ignoring_minimum(y, s, z)
            elif ci.lo is None:
                continue
            else:
                lo, hi = ci.lo, ci.hi
            hits[method].append((lo <= truth <= hi, hi - lo))
    return {m: (float(np.mean([h for h, _ in v])), float(np.median([w for _, w in v])), len(v)) if v
            else (float("nan"), float("nan"), 0) for m, v in hits.items()}


def _grouped_set(rng: np.random.Generator, n_groups: int, d: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, scores, groups): six videos per group, 1-5 of them fake, a shared offset per group."""
    fakes = rng.integers(1, 6, n_groups)
    y = np.concatenate([np.r_[np.zeros(6 - k, np.int64), np.ones(k, np.int64)] for k in fakes])
    groups = np.repeat(np.arange(n_groups), 6)
    return y, rng.normal(size=n_groups)[groups] + d * y + rng.normal(size=y.size), groups


def group_coverage(n_groups: int, trials: int, seed: int, d: float = 1.4, n_boot: int = 500) -> dict[str, tuple[float, float]]:
    """{method: (coverage, median width)} of DeLong and the group bootstrap on grouped sets."""
    from sklearn.metrics import roc_auc_score

    from dfdetect.evaluation.intervals import auc_with_ci, group_bootstrap_auc_ci

    rng = np.random.default_rng([seed, n_groups, 1])
    truth = float(np.mean([roc_auc_score(*_grouped_set(rng, n_groups, d)[:2]) for _ in range(trials)]))
    hits: dict[str, list[tuple[bool, float]]] = {"delong": [], "group bootstrap": []}
    for trial in range(trials):
        y, s, groups = _grouped_set(rng, n_groups, d)
        for name, ci in (("delong", auc_with_ci(y, s)),
                         ("group bootstrap", group_bootstrap_auc_ci(y, s, groups, n_boot=n_boot, seed=trial))):
            hits[name].append((ci.lo <= truth <= ci.hi, ci.hi - ci.lo))
    print(f"pooled AUC over {n_groups} identity groups: truth (mean of {trials} draws) {truth:.3f}")
    return {m: (float(np.mean([h for h, _ in v])), float(np.median([w for _, w in v]))) for m, v in hits.items()}


def _frame_set(rng: np.random.Generator, n_fake: int, n_real: int = 50, frames: int = 8, d: float = 1.0):
    """(labels, scores, videos) of frames: each video's frames share its offset."""
    video_y = np.r_[np.zeros(n_real, np.int64), np.ones(n_fake, np.int64)]
    y, videos = np.repeat(video_y, frames), np.repeat(np.arange(video_y.size), frames)
    return y, np.repeat(rng.normal(size=video_y.size) + d * video_y, frames) + 0.5 * rng.normal(size=y.size), videos


def frame_coverage(n_fake: int, trials: int, seed: int, n_boot: int = 500) -> dict[str, tuple[float, float]]:
    """{method: (coverage, median width)} of the frame bootstrap and frame_auc_ci."""
    from sklearn.metrics import roc_auc_score

    from dfdetect.evaluation.intervals import cluster_bootstrap_auc_ci, frame_auc_ci

    rng = np.random.default_rng([seed, n_fake, 2])
    truth = float(np.mean([roc_auc_score(*_frame_set(rng, n_fake)[:2]) for _ in range(trials)]))
    hits: dict[str, list[tuple[bool, float]]] = {"bootstrap over videos": [], "frame_auc_ci (eval)": []}
    for trial in range(trials):
        y, s, videos = _frame_set(rng, n_fake)
        for name, ci in (("bootstrap over videos", cluster_bootstrap_auc_ci(y, s, videos, n_boot=n_boot, seed=trial)),
                         ("frame_auc_ci (eval)", frame_auc_ci(y, s, videos, n_boot=n_boot, seed=trial))):
            hits[name].append((ci.lo <= truth <= ci.hi, ci.hi - ci.lo))
    return {m: (float(np.mean([h for h, _ in v])), float(np.median([w for _, w in v]))) for m, v in hits.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fakes", default="1,2,5,10,30", help="numbers of fakes, comma-separated")
    ap.add_argument("--reals", type=int, default=200)
    ap.add_argument("--auc", type=float, default=0.76, help="the true AUC of the simulated detector")
    ap.add_argument("--trials", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--groups", type=int, default=25, help="also simulate pooled AUC over this many identity groups (0: skip)")
    ap.add_argument("--frames", default="", help="also simulate frame AUC with these numbers of fake videos")
    args = ap.parse_args(argv)
    from rich.console import Console
    from rich.table import Table

    start = time.perf_counter()
    table = Table(title=f"nominal 95 % AUC intervals, true AUC {args.auc}, {args.reals} reals, "
                        f"{args.trials} trials, seed {args.seed}")
    table.add_column("fakes", justify="right")
    for method in METHODS:
        table.add_column(f"{method} coverage", justify="right")
        table.add_column(f"{method} median width", justify="right")
    for n_fake in (int(v) for v in args.fakes.split(",")):
        res = coverage(n_fake, args.reals, args.auc, args.trials, args.seed)
        cells = []
        for method in METHODS:
            cov, width, n = res[method]
            cells += ["n/a (no interval)", ""] if n == 0 else [f"{cov:.3f}", f"{width:.3f}"]
        table.add_row(str(n_fake) + (" (DeLong as before: no interval now)" if n_fake < 2 else ""), *cells)
    Console(width=160).print(table)
    if args.groups:
        grouped = Table(title=f"nominal 95 % intervals for pooled AUC over {args.groups} identity groups, "
                              f"{args.trials} trials, seed {args.seed}")
        for column in ("method", "coverage", "median width"):
            grouped.add_column(column, justify="right")
        for method, (cov, width) in group_coverage(args.groups, args.trials, args.seed).items():
            grouped.add_row(method, f"{cov:.3f}", f"{width:.3f}")
        Console(width=160).print(grouped)
    if args.frames:
        framed = Table(title=f"nominal 95 % frame AUC intervals, 50 real videos x 8 frames, {args.trials} trials, "
                             f"seed {args.seed}")
        framed.add_column("fake videos", justify="right")
        names = ("bootstrap over videos", "frame_auc_ci (eval)")
        for name in names:
            framed.add_column(f"{name} coverage", justify="right")
            framed.add_column("median width", justify="right")
        for n_fake in (int(v) for v in args.frames.split(",")):
            res = frame_coverage(n_fake, args.trials, args.seed)
            framed.add_row(str(n_fake), *(f"{v:.3f}" for name in names for v in res[name]))
        Console(width=160).print(framed)
    print(f"{time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
