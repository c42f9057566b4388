"""experiments/robustness/verdict_policy.py: the declared rule that chose the bundled model's verdict
policy, and the metrics it reads (no FF++ data needed: tables and scores made here)."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "experiments" / "robustness" / "verdict_policy.py"


@pytest.fixture(scope="module")
def policy():
    spec = importlib.util.spec_from_file_location("verdict_policy", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _table(clean: dict[str, float], c40: dict[str, float]) -> pd.DataFrame:
    rows = [{"policy": p, "condition": c, "balanced_accuracy": ba}
            for c, bas in (("clean", clean), ("c40", c40)) for p, ba in bas.items()]
    return pd.DataFrame(rows)


@pytest.mark.parametrize(("clean", "c40", "chosen"), [
    ({"U": 0.672, "C": 0.693, "CV": 0.730}, {"U": 0.526, "C": 0.536, "CV": 0.552}, "CV"),  # the measured means
    ({"U": 0.70, "C": 0.71, "CV": 0.72}, {"U": 0.60, "C": 0.61, "CV": 0.615}, "U"),  # within 0.02: the simplest
    ({"U": 0.60, "C": 0.66, "CV": 0.67}, {"U": 0.50, "C": 0.56, "CV": 0.57}, "C"),  # CV only 0.01 above C
    ({"U": 0.75, "C": 0.60, "CV": 0.60}, {"U": 0.70, "C": 0.60, "CV": 0.60}, "U"),  # complexity never wins by itself
])
def test_the_rule_takes_the_simplest_policy_within_002_of_the_best(policy, clean, c40, chosen) -> None:
    assert policy.choose(_table(clean, c40)) == chosen


def test_summary_reads_verdicts_at_each_folds_own_threshold(policy) -> None:
    # fold a calls at 0.5, fold b at 0.8: the 0.7 fake of fold b is a miss, the 0.6 real of fold a a false alarm
    scores = pd.DataFrame({
        "video_id": list("abcdefgh"), "label": [1, 1, 0, 0, 1, 1, 0, 0],
        "prob": [0.9, 0.4, 0.6, 0.1, 0.9, 0.7, 0.3, 0.2], "threshold": [0.5] * 4 + [0.8] * 4,
        "fold": ["a"] * 4 + ["b"] * 4, "policy": "U", "condition": "clean"})
    row = policy.summarise(scores).iloc[0]
    assert (row["tpr"], row["fpr"]) == (0.5, 0.25)
    assert row["balanced_accuracy"] == pytest.approx(0.625) and row["thresholds"] == "0.500 0.800"


def test_prior_log_odds_counts_one_self_blended_fake_per_real(policy, tmp_path) -> None:
    csv = tmp_path / "train.csv"
    pd.DataFrame({"label": ["1"] * 60 + ["0"] * 30}).to_csv(csv, index=False)
    assert policy.prior_log_odds(csv) == pytest.approx(math.log(90 / 30))
    assert policy.prior_log_odds(csv, sbi=False) == pytest.approx(math.log(2))


def test_balanced_accuracy_intervals_resample_groups_paired_across_policies(policy) -> None:
    rng = np.random.default_rng(0)
    n = 60
    base = pd.DataFrame({"video_id": [f"v{i}" for i in range(n)], "group": [f"g{i // 3}" for i in range(n)],
                         "label": rng.integers(0, 2, n), "threshold": 0.5, "condition": "clean"})
    noisy = rng.random(n)
    frames = []
    for name in policy.POLICIES:  # U and C score alike, CV calls every video right
        prob = base["label"].astype(float) if name == "CV" else noisy
        frames.append(base.assign(policy=name, prob=prob))
    table = policy.balanced_accuracy_intervals(pd.concat(frames, ignore_index=True), reps=500)
    rows = table.set_index("policy")
    assert rows.loc["C", "ba_minus_u_lo"] == rows.loc["C", "ba_minus_u_hi"] == 0.0  # paired: same draws
    assert rows.loc["CV", "ba_lo"] == rows.loc["CV", "ba_hi"] == 1.0
    assert rows.loc["CV", "ba_minus_u_lo"] > 0 and rows.loc["U", "ba_lo"] < 0.5 + 0.2 < rows.loc["CV", "ba_lo"]
