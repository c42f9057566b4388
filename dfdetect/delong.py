"""DeLong's confidence interval for one ROC AUC (DeLong et al. 1988, fast form of Sun & Xu 2014).

A minimal stand-in under the name `auc_confidence_interval` that dfdetect.metrics is meant to
provide; callers try dfdetect.metrics first and fall back to this module.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def _midranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank."""
    from scipy.stats import rankdata

    return rankdata(x, method="average")


def delong_auc_variance(labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """(AUC, variance of the AUC estimate) for labels 1 = fake (positive), 0 = real."""
    y = np.asarray(labels).astype(int)
    s = np.asarray(scores, dtype=np.float64)
    pos, neg = s[y == 1], s[y == 0]
    m, n = len(pos), len(neg)
    if m == 0 or n == 0:
        raise ValueError("DeLong's interval needs at least one positive and one negative")
    tx, ty, tz = _midranks(pos), _midranks(neg), _midranks(np.concatenate([pos, neg]))
    auc = (tz[:m].sum() - m * (m + 1) / 2) / (m * n)
    v01 = (tz[:m] - tx) / n  # structural components of the positives
    v10 = 1.0 - (tz[m:] - ty) / m  # and of the negatives
    s01 = np.var(v01, ddof=1) if m > 1 else 0.0
    s10 = np.var(v10, ddof=1) if n > 1 else 0.0
    return float(auc), float(s01 / m + s10 / n)


def auc_confidence_interval(
    labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray, level: float = 0.95
) -> tuple[float, float, float]:
    """(auc, lo, hi): the AUC with DeLong's normal-approximation interval, clipped to [0, 1]."""
    from scipy.stats import norm

    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    auc, var = delong_auc_variance(labels, scores)
    half = float(norm.ppf(0.5 + level / 2)) * float(np.sqrt(max(var, 0.0)))
    return auc, max(0.0, auc - half), min(1.0, auc + half)
