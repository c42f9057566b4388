"""Confidence intervals for AUC (label 1 = fake).

- Video level: DeLong's method (DeLong, DeLong & Clarke-Pearson 1988), computed with midranks in
  O(n log n) as in Sun & Xu, "Fast implementation of DeLong's algorithm" (IEEE SPL 2014). The
  interval is AUC ± z·SE, clipped to [0, 1] (as pROC does). A perfect or fully reversed ranking
  has SE 0, so its interval has zero width: more data is the only way to a wider, honest one.
- Frame level: frames of one video are not independent, so DeLong on frames would be far too
  narrow. We bootstrap over videos instead (a cluster bootstrap), stratified by class so that every
  resample keeps the numbers of real and fake videos; percentile interval, seeded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class AucInterval:
    """An AUC with its confidence interval (`lo`, `hi`) at `level`; `se` for DeLong only."""

    auc: float
    lo: float
    hi: float
    level: float = 0.95
    se: float | None = None
    n_real: int = 0
    n_fake: int = 0
    method: str = "delong"

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


def auc_with_ci(
    labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray, level: float = 0.95
) -> AucInterval | None:
    """Pooled AUC with its DeLong interval from (labels, scores) arrays; None for one class.

    This is what `eval` reports per test set, and what a k-fold benchmark calls on the
    out-of-fold scores of all videos."""
    y, s = _arrays(labels, scores)
    if not ((y == 0).any() and (y == 1).any()):
        return None
    auc, var = delong_auc_variance(y, s)
    se = float(np.sqrt(max(var, 0.0)))
    half = _z(level) * se
    return AucInterval(auc, max(0.0, auc - half), min(1.0, auc + half), level, se,
                       int((y == 0).sum()), int((y == 1).sum()), "delong")


def _weighted_aucs(y: np.ndarray, level_index: np.ndarray, n_levels: int, weights: np.ndarray) -> np.ndarray:
    """AUC for each row of `weights` (B, n): sample i counts weights[b, i] times. Ties count half.
    `level_index` numbers the distinct scores in increasing order."""
    b = weights.shape[0]
    offsets = (np.arange(b) * n_levels)[:, None]
    idx = (offsets + level_index[None, :]).ravel()
    w_pos = np.bincount(idx, weights=(weights * (y == 1)).ravel(), minlength=b * n_levels).reshape(b, n_levels)
    w_neg = np.bincount(idx, weights=(weights * (y == 0)).ravel(), minlength=b * n_levels).reshape(b, n_levels)
    below = np.cumsum(w_neg, axis=1) - w_neg  # reals scored strictly lower
    wins = (w_pos * (below + 0.5 * w_neg)).sum(axis=1)
    return wins / (w_pos.sum(axis=1) * w_neg.sum(axis=1))


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
    label. None for one class. Same seed -> same interval."""
    from sklearn.metrics import roc_auc_score

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
    _, level_index = np.unique(s, return_inverse=True)
    n_levels = int(level_index.max()) + 1
    rng = np.random.default_rng(seed)
    real, fake = np.flatnonzero(group_label == 0), np.flatnonzero(group_label == 1)
    aucs = []
    chunk = max(1, min(n_boot, 2_000_000 // max(1, y.size)))  # bounded memory: (chunk, n) weights
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        counts = np.zeros((b, n_groups))
        for members in (real, fake):
            draws = rng.integers(0, members.size, size=(b, members.size))
            np.add.at(counts, (np.arange(b)[:, None], members[draws]), 1.0)
        aucs.append(_weighted_aucs(y, level_index, n_levels, counts[:, group_index]))
    boot = np.concatenate(aucs)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(boot, [alpha, 1.0 - alpha])
    return AucInterval(float(roc_auc_score(y, s)), float(lo), float(hi), level, None,
                       int((group_label == 0).sum()), int((group_label == 1).sum()), "cluster bootstrap")
