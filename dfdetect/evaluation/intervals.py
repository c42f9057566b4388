"""Confidence intervals for AUC (label 1 = fake).

- No interval at all when a class has fewer than MIN_VIDEOS_PER_CLASS (2) videos: one fake shows
  nothing of how fakes spread, so any interval would only reflect the reals (DeLong's covered a
  true AUC 0.76 13 % of the time with 1 fake among 200 reals). lo/hi are None and `note` says why.
- Video level: DeLong's method (DeLong, DeLong & Clarke-Pearson 1988), computed with midranks in
  O(n log n) as in Sun & Xu, "Fast implementation of DeLong's algorithm" (IEEE SPL 2014). The
  interval is AUC ± z·SE, clipped to [0, 1] (as pROC does). It under-covers when a class is
  small (its variance is estimated from a handful of placements), so method "auto" (what `eval`
  uses) takes Hanley & McNeil's (1982) variance, which needs only the AUC and the two counts, on
  the logit scale below DELONG_MIN_CLASS videos in the smaller class. `benchmarks/interval_coverage.py`
  measures the coverage of both (2 fakes among 200 reals: DeLong 64 %, Hanley–McNeil 97 %).
- Frame level: frames of one video are not independent, so DeLong on frames would be far too
  narrow. We bootstrap over videos instead (a cluster bootstrap), stratified by class so that every
  resample keeps the numbers of real and fake videos; percentile interval, seeded. With few videos
  it under-covers as DeLong does, so `frame_auc_ci` (what `eval` uses) takes Hanley–McNeil (logit)
  with the numbers of *videos* below DELONG_MIN_CLASS videos in the smaller class.
- Pooled out-of-fold AUC over identity groups: videos of one identity group (reals and fakes
  together) are not independent either, so `group_bootstrap_auc_ci` resamples whole groups.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

#: Fewer videos than this in either class: no interval (lo/hi None), see the module docstring.
MIN_VIDEOS_PER_CLASS = 2
#: Method "auto" uses DeLong from this many videos in the smaller class on, Hanley–McNeil below.
DELONG_MIN_CLASS = 30
METHODS = ("auto", "delong", "hanley-mcneil")


@dataclass(frozen=True)
class AucInterval:
    """An AUC with its confidence interval (`lo`, `hi`) at `level`; `se` for DeLong and
    Hanley–McNeil (not for the bootstraps)."""

    auc: float
    lo: float | None
    hi: float | None
    level: float = 0.95
    se: float | None = None
    n_real: int = 0
    n_fake: int = 0
    method: str = "delong"
    note: str = ""  # why lo/hi are None, when they are

    def as_dict(self, prefix: str = "auc") -> dict[str, float | int | None]:
        return {prefix: self.auc, f"{prefix}_lo": self.lo, f"{prefix}_hi": self.hi}


def _arrays(labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels, dtype=np.int64).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"labels ({y.size}) and scores ({s.size}) differ in length")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 (real) or 1 (fake)")
    if not np.isfinite(s).all():
        raise ValueError("scores hold NaN or infinite values")
    return y, s


def _z(level: float) -> float:
    from scipy.stats import norm

    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence level must be in (0, 1), not {level}")
    return float(norm.ppf(0.5 + level / 2.0))


def delong_auc_variance(labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """(AUC, DeLong variance of the AUC). Needs both classes (ValueError otherwise).

    Midranks give each fake's placement among the reals (V10) and each real's among the fakes
    (V01) without the O(m·n) pair matrix: V10_i = (rank of x_i among all - rank among fakes) / n."""
    from scipy.stats import rankdata

    y, s = _arrays(labels, scores)
    pos, neg = s[y == 1], s[y == 0]
    m, n = pos.size, neg.size
    if m == 0 or n == 0:
        raise ValueError("DeLong's AUC variance needs both real and fake samples")
    all_ranks = rankdata(np.concatenate([pos, neg]))  # midranks: ties count one half
    v10 = (all_ranks[:m] - rankdata(pos)) / n
    v01 = 1.0 - (all_ranks[m:] - rankdata(neg)) / m
    auc = float(v10.mean())
    s10 = float(np.var(v10, ddof=1)) if m > 1 else 0.0
    s01 = float(np.var(v01, ddof=1)) if n > 1 else 0.0
    return auc, s10 / m + s01 / n


def too_few_note(n_real: int, n_fake: int, unit: str = "video") -> str:
    """The one line that says why a set has no AUC interval ('' when it may have one)."""
    if min(n_real, n_fake) >= MIN_VIDEOS_PER_CLASS:
        return ""
    return (f"no 95% interval: {n_fake} fake and {n_real} real {unit}s; an interval needs at least "
            f"{MIN_VIDEOS_PER_CLASS} of each")


def hanley_mcneil_variance(auc: float, n_fake: int, n_real: int) -> float:
    """Hanley & McNeil (1982), eq. 2: the AUC's variance from the AUC and the two class sizes,
    with Q1 = A/(2-A), Q2 = 2A²/(1+A). It estimates no per-class spread, so it stays usable with
    a few fakes, where DeLong's per-fake placements give a noisy (mostly too small) variance."""
    a, m, n = auc, n_fake, n_real
    q1, q2 = a / (2.0 - a), 2.0 * a * a / (1.0 + a)
    return (a * (1.0 - a) + (m - 1) * (q1 - a * a) + (n - 1) * (q2 - a * a)) / (m * n)


def _logit_interval(auc: float, n_fake: int, n_real: int, z: float) -> tuple[float, float, float]:
    """(lo, hi, se) of the Hanley–McNeil interval on the logit scale, mapped back: it stays in
    (0, 1) and widens downwards near AUC 1. A perfect ranking is moved half a pair inwards, so
    that it still gets a lower bound rather than a zero-width interval (and the interval is then
    stretched to hold the AUC itself)."""
    eps = 0.5 / (n_fake * n_real)
    a = min(max(auc, eps), 1.0 - eps)
    se = float(np.sqrt(max(hanley_mcneil_variance(a, n_fake, n_real), 0.0)))
    centre, half = np.log(a / (1.0 - a)), z * se / (a * (1.0 - a))
    lo, hi = 1.0 / (1.0 + np.exp(-(centre - half))), 1.0 / (1.0 + np.exp(-(centre + half)))
    return float(min(lo, auc)), float(max(hi, auc)), se


def auc_with_ci(
    labels: Sequence[int] | np.ndarray,
    scores: Sequence[float] | np.ndarray,
    level: float = 0.95,
    method: str = "delong",
) -> AucInterval | None:
    """Pooled AUC with its interval from (labels, scores) arrays; None for one class.

    `method`: "delong", "hanley-mcneil" (logit scale) or "auto" (DeLong unless the smaller class
    has fewer than DELONG_MIN_CLASS videos; what `eval` reports per test set). lo/hi are None,
    with a `note`, when a class has fewer than MIN_VIDEOS_PER_CLASS videos."""
    if method not in METHODS:
        raise ValueError(f"unknown interval method {method!r}; choose from {', '.join(METHODS)}")
    y, s = _arrays(labels, scores)
    if not ((y == 0).any() and (y == 1).any()):
        return None
    z = _z(level)
    n_real, n_fake = int((y == 0).sum()), int((y == 1).sum())
    if method == "auto":
        method = "delong" if min(n_real, n_fake) >= DELONG_MIN_CLASS else "hanley-mcneil"
    auc, var = delong_auc_variance(y, s)
    if min(n_real, n_fake) < MIN_VIDEOS_PER_CLASS:
        return AucInterval(auc, None, None, level, None, n_real, n_fake, method, too_few_note(n_real, n_fake))
    if method == "hanley-mcneil":
        lo, hi, se = _logit_interval(auc, n_fake, n_real, z)
        return AucInterval(auc, lo, hi, level, se, n_real, n_fake, method)
    se = float(np.sqrt(max(var, 0.0)))
    half = z * se
    return AucInterval(auc, max(0.0, auc - half), min(1.0, auc + half), level, se, n_real, n_fake, "delong")


def _pair_wins(s: np.ndarray, y: np.ndarray, group_index: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """W[i, j]: over all (fake sample of group rows[i], real sample of group cols[j]) pairs, how many
    the fake wins (ties count half). A resample's AUC is then its group counts' c_rows @ W @ c_cols
    over its pair count. Both bootstraps use it: the cluster one (groups = videos, one class each)
    and the identity-group one (an FF++ identity holds reals and fakes)."""
    position = np.full(int(group_index.max()) + 1, -1, dtype=np.int64)
    position[rows] = np.arange(rows.size)
    fake_rows = (y == 1) & (position[group_index] >= 0)
    fake_scores, fake_pos = s[fake_rows], position[group_index[fake_rows]]
    reals = np.flatnonzero(y == 0)
    order = reals[np.lexsort((s[reals], group_index[reals]))]  # reals by group, then score
    starts = np.searchsorted(group_index[order], cols)
    ends = np.searchsorted(group_index[order], cols, side="right")
    wins = np.zeros((rows.size, cols.size))
    for column, (a, b) in enumerate(zip(starts, ends)):
        real_scores = s[order[a:b]]  # sorted
        below = np.searchsorted(real_scores, fake_scores, side="left")
        upto = np.searchsorted(real_scores, fake_scores, side="right")
        wins[:, column] = np.bincount(fake_pos, weights=below + 0.5 * (upto - below), minlength=rows.size)
    return wins


def cluster_bootstrap_auc_ci(
    labels: Sequence[int] | np.ndarray,
    scores: Sequence[float] | np.ndarray,
    groups: Sequence[int] | np.ndarray,
    level: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
) -> AucInterval | None:
    """AUC of (labels, scores) with a percentile interval from resampling whole groups (videos)
    with replacement, real and fake groups separately. Every sample of a group must share its
    label. None for one class; lo/hi None (with `note`) when a class has fewer than
    MIN_VIDEOS_PER_CLASS groups. Same seed -> same interval."""
    y, s = _arrays(labels, scores)
    g = np.asarray(groups).ravel()
    if g.shape != y.shape:
        raise ValueError(f"groups ({g.size}) and labels ({y.size}) differ in length")
    if not ((y == 0).any() and (y == 1).any()):
        return None
    _, group_index = np.unique(g, return_inverse=True)
    n_groups = int(group_index.max()) + 1
    group_label = np.zeros(n_groups, dtype=np.int64)
    group_label[group_index] = y
    if (group_label[group_index] != y).any():
        raise ValueError("every sample of a group (video) must carry the group's label")
    real, fake = np.flatnonzero(group_label == 0), np.flatnonzero(group_label == 1)
    wins = _pair_wins(s, y, group_index, fake, real)
    frames = np.bincount(group_index, minlength=n_groups).astype(np.float64)
    auc = float(wins.sum() / (frames[fake].sum() * frames[real].sum()))
    if min(real.size, fake.size) < MIN_VIDEOS_PER_CLASS:  # resampling one video always draws it
        return AucInterval(auc, None, None, level, None, int(real.size), int(fake.size), "cluster bootstrap",
                           too_few_note(int(real.size), int(fake.size)))
    rng = np.random.default_rng(seed)
    # Resampling n groups with replacement = multinomial counts over them.
    c_fake = rng.multinomial(fake.size, np.full(fake.size, 1.0 / fake.size), size=n_boot).astype(np.float64)
    c_real = rng.multinomial(real.size, np.full(real.size, 1.0 / real.size), size=n_boot).astype(np.float64)
    pairs = (c_fake @ frames[fake]) * (c_real @ frames[real])
    boot = ((c_fake @ wins) * c_real).sum(axis=1) / pairs
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(boot, [alpha, 1.0 - alpha])
    return AucInterval(auc, float(lo), float(hi), level, None,
                       int((group_label == 0).sum()), int((group_label == 1).sum()), "cluster bootstrap")


def frame_auc_ci(
    labels: Sequence[int] | np.ndarray,
    scores: Sequence[float] | np.ndarray,
    videos: Sequence[int] | np.ndarray,
    level: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
) -> AucInterval | None:
    """Frame AUC with the interval `eval` reports: the cluster bootstrap over videos from
    DELONG_MIN_CLASS videos in the smaller class on; below that, Hanley–McNeil on the logit scale
    with the video counts as the class sizes (videos are the independent units). Simulated
    (benchmarks/interval_coverage.py --frames) the bootstrap covered 63 % with 2 fake videos and
    83 % with 5, this 98-99 %. None for one class; lo/hi None below two videos of a class."""
    boot = cluster_bootstrap_auc_ci(labels, scores, videos, level, n_boot, seed)
    if boot is None or boot.lo is None or min(boot.n_real, boot.n_fake) >= DELONG_MIN_CLASS:
        return boot
    lo, hi, se = _logit_interval(boot.auc, boot.n_fake, boot.n_real, _z(level))
    return AucInterval(boot.auc, lo, hi, level, se, boot.n_real, boot.n_fake, "hanley-mcneil (videos)")


def group_bootstrap_auc_ci(
    labels: Sequence[int] | np.ndarray,
    scores: Sequence[float] | np.ndarray,
    groups: Sequence[object] | np.ndarray,
    *,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> AucInterval | None:
    """Video AUC with a percentile interval from resampling identity groups with replacement.

    For pooled out-of-fold scores: one row per video, `groups` its identity group (the manifest's
    `group`). A group may hold reals and fakes; a resample's AUC counts every (fake, real) pair of
    the drawn groups, with multiplicity, and resamples left with one class are dropped. lo/hi are
    None (with `note`) when fewer than two groups hold a fake or a real: one group cannot show
    the spread between groups. None for one class. Same seed -> same interval."""
    y, s = _arrays(labels, scores)
    g = np.asarray(groups).ravel()
    if g.shape != y.shape:
        raise ValueError(f"groups ({g.size}) and labels ({y.size}) differ in length")
    if not ((y == 0).any() and (y == 1).any()):
        return None
    _z(level)  # checks the level
    _, group_index = np.unique(g, return_inverse=True)
    n_groups = int(group_index.max()) + 1
    n_fake = np.bincount(group_index, weights=(y == 1), minlength=n_groups)
    n_real = np.bincount(group_index, weights=(y == 0), minlength=n_groups)
    everyone = np.arange(n_groups)
    wins = _pair_wins(s, y, group_index, everyone, everyone)
    auc = float(wins.sum() / (n_fake.sum() * n_real.sum()))
    counts = (int((y == 0).sum()), int((y == 1).sum()))
    method = "group bootstrap"
    fake_groups, real_groups = int((n_fake > 0).sum()), int((n_real > 0).sum())
    if fake_groups < 2 or real_groups < 2:
        note = f"no interval: fakes in {fake_groups} and reals in {real_groups} identity group(s); needs 2 each"
        return AucInterval(auc, None, None, level, None, *counts, method, note)
    rng = np.random.default_rng(seed)
    # Resampling n groups with replacement = multinomial counts over them.
    c = rng.multinomial(n_groups, np.full(n_groups, 1.0 / n_groups), size=n_boot).astype(np.float64)
    pairs = (c @ n_fake) * (c @ n_real)
    keep = pairs > 0
    boot = ((c[keep] @ wins) * c[keep]).sum(axis=1) / pairs[keep]
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(boot, [alpha, 1.0 - alpha])
    return AucInterval(auc, float(lo), float(hi), level, None, *counts, method)
