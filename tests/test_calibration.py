"""Calibration, the threshold policies and the calibration metrics, on answers known in advance."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from dfdetect.errors import DfdetectError, UsageError
from dfdetect.evaluation.calibration import (
    Calibration,
    calibration_metrics,
    calibration_of,
    choose_threshold,
    expected_calibration_error,
    fit_calibration,
    parse_threshold_policy,
    precision_at_prior,
    prior_from_ratio,
    sigmoid,
    tpr_at_fpr,
)


def _calibrated_sample(n: int = 5000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """True logits z and labels drawn from sigmoid(z): sigmoid(z) is perfectly calibrated."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 2.0, n)
    return z, (rng.random(n) < sigmoid(z)).astype(np.int64)


def test_logits_scaled_by_three_give_temperature_three() -> None:
    z, y = _calibrated_sample()
    cal = fit_calibration(y, sigmoid(3.0 * z))  # an over-confident model: every logit 3x too large
    assert cal.method == "temperature"
    assert cal.temperature == pytest.approx(3.0, rel=0.05)
    assert cal.val_nll < cal.val_nll_raw
    assert (cal.n_val, cal.n_val_fake + cal.n_val_real) == (5000, 5000) and cal.n_val_fake == int(y.sum())
    # the calibrated probabilities are the true ones, and the ranking is untouched
    np.testing.assert_allclose(cal.apply(sigmoid(3.0 * z)), sigmoid(z * 3.0 / cal.temperature), atol=1e-9)
    assert roc_auc_score(y, cal.apply(sigmoid(3 * z))) == pytest.approx(roc_auc_score(y, z))


def test_platt_only_when_it_pays_for_its_extra_parameter() -> None:
    z, y = _calibrated_sample()
    shifted = fit_calibration(y, sigmoid(3.0 * z + 1.5))  # too confident AND biased towards fake
    assert shifted.method == "platt"
    assert shifted.a == pytest.approx(1 / 3, rel=0.05) and shifted.b == pytest.approx(-0.5, abs=0.1)
    # an unbiased model keeps the one-parameter temperature (Platt's gain is under 1 nat)
    assert fit_calibration(y, sigmoid(z)).method == "temperature"


def test_a_tiny_separable_validation_set_gives_a_finite_temperature() -> None:
    cal = fit_calibration([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert 0.2 < cal.temperature < 20  # Platt's smoothed targets: no T -> 0 on four videos
    assert 0.2 < cal.threshold < 0.8
    with pytest.raises(DfdetectError, match="both classes"):
        fit_calibration([0, 0, 0], [0.1, 0.2, 0.3])


def test_threshold_policies_on_a_hand_worked_roc() -> None:
    # reals 0.1 0.2 0.3 0.6, fakes 0.5 0.9
    y, p = [0, 0, 0, 0, 1, 1], [0.1, 0.2, 0.3, 0.6, 0.5, 0.9]
    # balanced: calling >= 0.5 fake catches both fakes with one false alarm (tpr 1, fpr .25: the best
    # tpr - fpr); the threshold sits halfway to the next lower score, 0.3
    assert choose_threshold(y, p, "balanced") == pytest.approx(0.4)
    # fpr <= 0.2 allows no false alarm: >= 0.9 catches one fake; halfway down to 0.6
    assert choose_threshold(y, p, "fpr:0.2") == pytest.approx(0.75)
    assert choose_threshold(y, p, "fpr:0.3") == pytest.approx(0.4)


def test_policy_and_prior_parsing() -> None:
    assert parse_threshold_policy(" Balanced ") == "balanced"
    assert parse_threshold_policy("fpr:0.050") == "fpr:0.05"
    for bad in ("fpr:0", "fpr:1.5", "fpr:x", "youden", ""):
        with pytest.raises(UsageError, match="threshold-policy"):
            parse_threshold_policy(bad)
    assert prior_from_ratio("1:100") == pytest.approx(1 / 101)
    assert prior_from_ratio("2:3") == pytest.approx(0.4)
    with pytest.raises(UsageError, match="--prior"):
        prior_from_ratio("1:0")


def test_ece_by_hand() -> None:
    # 15 bins: 0.1 and 0.1 share bin 1 (1/15 <= p < 2/15), 0.9 is in bin 13, 0.95 in bin 14
    # bin 1: |0.5 - 0.1| * 2/4 = 0.2; bin 13: |1 - 0.9| * 1/4 = 0.025; bin 14: |0 - 0.95| * 1/4 = 0.2375
    assert expected_calibration_error([0, 1, 1, 0], [0.1, 0.1, 0.9, 0.95]) == pytest.approx(0.4625)
    assert expected_calibration_error([0, 1], [0.0, 1.0]) == pytest.approx(0.0)  # p = 1 falls in the last bin


def test_tpr_at_fpr_and_precision_at_prior() -> None:
    y = np.array([0] * 100 + [1] * 10)
    p = np.concatenate([np.linspace(0.0, 0.5, 100), np.linspace(0.45, 0.95, 10)])
    # reals above 0.45: 10 of them (0.4545..0.5); with fpr <= 1 % one real may be above the threshold
    assert tpr_at_fpr(y, p, 0.01) == pytest.approx(0.9)
    assert tpr_at_fpr(y, p, 0.05) == pytest.approx(0.9)
    assert tpr_at_fpr(y, p, 0.10) == pytest.approx(1.0)
    assert tpr_at_fpr([1, 1], [0.2, 0.3], 0.05) is None
    # tpr .8, fpr .05 at 1:100: 0.8/101 / (0.8/101 + 0.05 * 100/101) = 0.8 / 5.8
    assert precision_at_prior(0.8, 0.05, 1 / 101) == pytest.approx(0.8 / 5.8)
    assert precision_at_prior(0.0, 0.0, 0.5) == 0.0
    m = calibration_metrics([0, 0, 1, 1], [0.1, 0.6, 0.7, 0.2], threshold=0.5, prior=0.5)
    assert m["brier"] == pytest.approx((0.01 + 0.36 + 0.09 + 0.64) / 4)
    assert m["precision_at_prior"] == pytest.approx(0.5)  # tpr .5, fpr .5


def test_the_stored_record_round_trips_and_keeps_nan() -> None:
    z, y = _calibrated_sample(400, seed=1)
    for raw in (sigmoid(2 * z), sigmoid(3 * z + 1.5)):
        cal = fit_calibration(y, raw, "fpr:0.05")
        record = cal.to_dict()
        assert {"method", "temperature", "threshold", "policy", "n_val", "n_val_fake", "n_val_real"} <= set(record)
        assert record["policy"] == "fpr:0.05" and (("a" in record) == (cal.method == "platt"))
        again = calibration_of({"calibration": record})
        probe = np.array([0.01, 0.3, 0.5, 0.97, np.nan])
        np.testing.assert_allclose(again.apply(probe), cal.apply(probe), atol=1e-5)
        assert np.isnan(again.apply(probe)[-1])
        np.testing.assert_allclose(again.invert(again.apply(probe[:-1])), probe[:-1], atol=1e-5)
    assert calibration_of({}) is None
    with pytest.raises(DfdetectError, match="calibration"):
        Calibration.from_dict({"method": "temperature", "temperature": -1.0})
