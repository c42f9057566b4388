"""Calibrated probabilities and a decision threshold chosen on validation videos (issue 24 §3).

A model's `fake_prob` ranks videos well but is no probability: training on the AUC loss or at a
skewed ratio leaves it too sure or too shy. After training, `train` fits a map from the model's
video logit z = logit(raw probability) to a calibrated one on the validation videos:
- temperature scaling: p = sigmoid(z / T), one parameter, keeps the ranking and logit 0 in place;
- Platt scaling: p = sigmoid(a·z + b), two parameters (b moves the prior as well).
Both are logistic regressions on z (sklearn), the temperature one without intercept, and both are
fitted to Platt's smoothed targets ((n_fake + 1)/(n_fake + 2) and 1/(n_real + 2)) so that a small,
perfectly separated validation set gives a finite temperature instead of T -> 0.
Rule: temperature is kept unless Platt lowers the validation NLL by more than its extra parameter
costs (Akaike: summed NLL lower by > 1 nat); a fit with a <= 0 (a reversed ranking) is refused.

The threshold is then chosen on the calibrated validation probabilities by a policy:
- `balanced`: maximise balanced accuracy (tpr + tnr) / 2; ties go to the higher threshold.
- `fpr:X`: the largest recall with a false-positive rate <= X; ties go to the higher threshold.
The threshold sits halfway between the last validation score called fake and the next lower one,
so it classifies the validation set exactly as the chosen ROC point does, with a margin.
Nothing here is ever fitted on test data: `train` calls it on --val only.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

from dfdetect.errors import DfdetectError, UsageError

EPS = 1e-12  # probabilities are clipped to [EPS, 1 - EPS] before taking logits (a float32 sigmoid gives 0 and 1)
ECE_BINS = 15
POLICY_HELP = "use 'balanced' or 'fpr:X' with X in (0, 1), e.g. fpr:0.05"
METHODS = ("temperature", "platt")


def logit(p: np.ndarray | Sequence[float] | float) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1.0 - EPS)
    return np.log(p) - np.log1p(-p)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=np.float64)))  # overflow-free


# ------------------------------------------------------------------------------ the map
@dataclass
class Calibration:
    """p_calibrated = sigmoid(a · logit(p_raw) + b); temperature T means a = 1/T, b = 0."""

    method: str
    a: float
    b: float = 0.0
    threshold: float = 0.5
    policy: str = "balanced"
    n_val: int = 0
    n_val_fake: int = 0
    n_val_real: int = 0
    val_nll_raw: float | None = None
    val_nll: float | None = None

    @property
    def temperature(self) -> float:
        return 1.0 / self.a

    def apply(self, probs: np.ndarray | Sequence[float] | float) -> np.ndarray:
        """Calibrated probabilities; NaN (an empty stack) stays NaN."""
        p = np.asarray(probs, dtype=np.float64)
        out = sigmoid(self.a * logit(p) + self.b)
        return np.where(np.isnan(p), np.nan, out)

    def invert(self, probs: np.ndarray | Sequence[float] | float) -> np.ndarray:
        """The raw probabilities that `apply` maps onto `probs`."""
        return sigmoid((logit(probs) - self.b) / self.a)

    def to_dict(self) -> dict[str, Any]:
        """The plain-data record stored in best.ckpt's config and RUN/config.json."""
        d = asdict(self)
        d["temperature"] = self.temperature
        if self.method == "temperature":
            d.pop("a"), d.pop("b")
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in d.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Calibration":
        method = str(data.get("method", "temperature"))
        if method not in METHODS:
            raise DfdetectError(f"unknown calibration method '{method}' in the checkpoint config; expected "
                                f"{' or '.join(METHODS)} (re-train, or use a newer dfdetect)")
        if method == "temperature":
            temperature = float(data["temperature"])
            a, b = 1.0 / temperature, 0.0
        else:
            a, b = float(data["a"]), float(data["b"])
        if not (math.isfinite(a) and a > 0 and math.isfinite(b)):
            raise DfdetectError(f"invalid calibration in the checkpoint config ({data}); re-train to refit it")
        known = {k: data[k] for k in ("threshold", "policy", "n_val", "n_val_fake", "n_val_real",
                                      "val_nll_raw", "val_nll") if k in data}
        return cls(method, a, b, **known)


def calibration_of(config: dict[str, Any]) -> Calibration | None:
    """The calibration a checkpoint's config records, or None (trained before issue 24, or without --val)."""
    data = config.get("calibration")
    return Calibration.from_dict(data) if isinstance(data, dict) and data else None


# ------------------------------------------------------------------------------ fitting
def _checked(labels: Sequence[int] | np.ndarray, probs: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels, dtype=np.int64).ravel()
    p = np.asarray(probs, dtype=np.float64).ravel()
    if y.shape != p.shape:
        raise ValueError(f"labels ({y.size}) and probabilities ({p.size}) differ in length")
    if not np.isfinite(p).all():
        raise ValueError("probabilities hold NaN or infinite values")
    if not ((y == 0).any() and (y == 1).any()):
        raise DfdetectError("calibration needs validation videos of both classes (real and fake)")
    return y, p


def nll(labels: np.ndarray, probs: np.ndarray) -> float:
    """Mean negative log-likelihood (log loss) of hard labels."""
    p = np.clip(np.asarray(probs, dtype=np.float64), EPS, 1.0 - EPS)
    y = np.asarray(labels)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


def _fit_logistic(z: np.ndarray, y: np.ndarray, intercept: bool) -> tuple[float, float]:
    """(a, b) of sigmoid(a·z + b) fitted to Platt's smoothed targets (each video twice: as fake
    with weight t, as real with weight 1 - t, which is the cross-entropy against target t)."""
    from sklearn.linear_model import LogisticRegression

    n_fake, n_real = int(y.sum()), int((1 - y).sum())
    target = np.where(y == 1, (n_fake + 1.0) / (n_fake + 2.0), 1.0 / (n_real + 2.0))
    x = np.concatenate([z, z])[:, None]
    yy = np.concatenate([np.ones_like(y), np.zeros_like(y)])
    w = np.concatenate([target, 1.0 - target])
    lr = LogisticRegression(C=np.inf, fit_intercept=intercept, max_iter=1000, tol=1e-10)
    lr.fit(x, yy, sample_weight=w)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0]) if intercept else 0.0


def fit_calibration(labels: Sequence[int] | np.ndarray, raw_probs: Sequence[float] | np.ndarray,
                    policy: str = "balanced") -> Calibration:
    """Fit temperature (or Platt, by the module's rule) and choose the threshold on validation videos."""
    y, p = _checked(labels, raw_probs)
    policy = parse_threshold_policy(policy)
    z = logit(p)
    a_t, _ = _fit_logistic(z, y, intercept=False)
    if not (math.isfinite(a_t) and a_t > 0):
        raise DfdetectError("the model ranks the validation videos backwards (fitted temperature <= 0); "
                            "not calibrating it: check the labels of --val")
    best = Calibration("temperature", a_t)
    a_p, b_p = _fit_logistic(z, y, intercept=True)
    if math.isfinite(a_p) and a_p > 0 and math.isfinite(b_p):
        platt = Calibration("platt", a_p, b_p)
        # Akaike: Platt's extra parameter must buy more than 1 nat of summed validation NLL
        if len(y) * (nll(y, best.apply(p)) - nll(y, platt.apply(p))) > 1.0:
            best = platt
    calibrated = best.apply(p)
    best.threshold = choose_threshold(y, calibrated, policy)
    best.policy = policy
    best.n_val, best.n_val_fake, best.n_val_real = len(y), int(y.sum()), int((1 - y).sum())
    best.val_nll_raw, best.val_nll = nll(y, p), nll(y, calibrated)
    return best


# ------------------------------------------------------------------------------ threshold
def parse_threshold_policy(text: str) -> str:
    """'balanced' or 'fpr:X' (0 < X < 1), normalised; UsageError naming the fix otherwise."""
    value = str(text).strip().lower()
    if value == "balanced":
        return value
    if value.startswith("fpr:"):
        try:
            x = float(value[4:])
        except ValueError:
            x = float("nan")
        if 0.0 < x < 1.0:
            return f"fpr:{x:g}"
    raise UsageError(f"invalid --threshold-policy '{text}'; {POLICY_HELP}")


def choose_threshold(labels: Sequence[int] | np.ndarray, probs: Sequence[float] | np.ndarray,
                     policy: str = "balanced") -> float:
    """The decision threshold (score >= threshold = fake) that `policy` picks on these scores."""
    from sklearn.metrics import roc_curve

    y, p = _checked(labels, probs)
    policy = parse_threshold_policy(policy)
    fpr, tpr, thr = roc_curve(y, p, drop_intermediate=False)
    # thr[0] is +inf (nothing called fake); thr[i] for i >= 1 are the distinct scores, decreasing
    if policy == "balanced":
        objective = tpr - fpr  # balanced accuracy = (1 + tpr - fpr) / 2
        allowed = np.ones_like(objective, dtype=bool)
    else:
        objective = tpr.copy()
        allowed = fpr <= float(policy[4:]) + 1e-12
    objective = np.where(allowed, objective, -np.inf)
    i = int(np.argmax(objective))  # the first maximum: the highest threshold among ties
    if i == 0:
        return float(min(1.0, (1.0 + p.max()) / 2))  # call nothing fake on validation
    lower = thr[i + 1] if i + 1 < len(thr) else 0.0
    return float((thr[i] + lower) / 2)


# ------------------------------------------------------------------------------ metrics
def brier(labels: Sequence[int] | np.ndarray, probs: Sequence[float] | np.ndarray) -> float | None:
    from sklearn.metrics import brier_score_loss

    y, p = np.asarray(labels).ravel(), np.asarray(probs, dtype=np.float64).ravel()
    return float(brier_score_loss(y, p, pos_label=1)) if y.size else None


def reliability_bins(labels: Sequence[int] | np.ndarray, probs: Sequence[float] | np.ndarray,
                     n_bins: int = ECE_BINS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per equal-width bin of [0, 1]: (count, mean probability, fraction fake); empty bins hold NaN.
    Bin k holds k/n <= p < (k+1)/n, the last one also p = 1."""
    y = np.asarray(labels, dtype=np.float64).ravel()
    p = np.asarray(probs, dtype=np.float64).ravel()
    idx = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    count = np.bincount(idx, minlength=n_bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.bincount(idx, weights=p, minlength=n_bins) / count
        frac = np.bincount(idx, weights=y, minlength=n_bins) / count
    return count, mean_p, frac


def expected_calibration_error(labels: Sequence[int] | np.ndarray, probs: Sequence[float] | np.ndarray,
                               n_bins: int = ECE_BINS) -> float | None:
    """ECE: sum over bins of (bin size / n) · |fraction fake - mean probability|."""
    count, mean_p, frac = reliability_bins(labels, probs, n_bins)
    if count.sum() == 0:
        return None
    used = count > 0
    return float(np.sum(count[used] / count.sum() * np.abs(frac[used] - mean_p[used])))


def tpr_at_fpr(labels: Sequence[int] | np.ndarray, probs: Sequence[float] | np.ndarray, max_fpr: float) -> float | None:
    """The largest true-positive rate of any threshold with false-positive rate <= max_fpr (ROC
    step function, no interpolation); None unless both classes are present."""
    from sklearn.metrics import roc_curve

    y, p = np.asarray(labels).ravel(), np.asarray(probs, dtype=np.float64).ravel()
    if not ((y == 0).any() and (y == 1).any()):
        return None
    fpr, tpr, _ = roc_curve(y, p, drop_intermediate=False)
    return float(tpr[fpr <= max_fpr + 1e-12].max())


def precision_at_prior(tpr: float | None, fpr: float | None, prior: float) -> float | None:
    """Precision when a fraction `prior` of the videos checked are fake: tpr·π / (tpr·π + fpr·(1-π)).
    0 when nothing is flagged (as sklearn's zero_division=0)."""
    if tpr is None or fpr is None:
        return None
    flagged = tpr * prior + fpr * (1.0 - prior)
    return float(tpr * prior / flagged) if flagged > 0 else 0.0


def prior_from_ratio(text: str, option: str = "--prior") -> float:
    """'1:100' (fake:real, as the ratios) -> the fake fraction 1/101."""
    from dfdetect.splitting.ratios import parse_ratio

    fake, real = parse_ratio(text, option)
    return fake / (fake + real)


def calibration_metrics(labels: Sequence[int] | np.ndarray, probs: Sequence[float] | np.ndarray,
                        threshold: float, prior: float) -> dict[str, float | None]:
    """brier, ece, tpr_at_fpr_1pct, tpr_at_fpr_5pct and precision_at_prior for one test set."""
    y = np.asarray(labels).ravel()
    p = np.asarray(probs, dtype=np.float64).ravel()
    out: dict[str, float | None] = {"brier": brier(y, p), "ece": expected_calibration_error(y, p),
                                    "tpr_at_fpr_1pct": tpr_at_fpr(y, p, 0.01), "tpr_at_fpr_5pct": tpr_at_fpr(y, p, 0.05)}
    both = bool((y == 0).any() and (y == 1).any())
    tpr = float((p[y == 1] >= threshold).mean()) if both else None
    fpr = float((p[y == 0] >= threshold).mean()) if both else None
    out["precision_at_prior"] = precision_at_prior(tpr, fpr, prior)
    return out
