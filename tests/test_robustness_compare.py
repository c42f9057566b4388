"""experiments/robustness/compare.py: the paired group-bootstrap AUC difference behind round 6's
cnn-vs-dual table (no FF++ data needed: scores made here with known orderings)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "experiments" / "robustness" / "compare.py"


def _compare():
    spec = importlib.util.spec_from_file_location("robustness_compare", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _scores(prob: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    # 60 videos in 20 identity groups of three
    return pd.DataFrame({"video_id": [f"v{i}" for i in range(len(prob))], "label": labels,
                         "group": [f"g{i // 3}" for i in range(len(prob))], "prob": prob})


def test_same_scores_differ_by_exactly_zero() -> None:
    rng = np.random.default_rng(0)
    labels = np.arange(60) % 2
    a = _scores(rng.random(60), labels)
    r = _compare().paired_difference(a, a.copy(), reps=200)
    assert r["diff"] == 0 and r["lo"] == 0 and r["hi"] == 0  # the same draw for both: no spread at all
    assert r["videos"] == 60 and r["groups"] == 20


def test_a_perfect_ranker_beats_noise_and_the_interval_says_so() -> None:
    rng = np.random.default_rng(1)
    labels = np.arange(60) % 2
    perfect = _scores(labels + 0.1 * rng.random(60), labels)
    noise = _scores(rng.random(60), labels)
    r = _compare().paired_difference(perfect, noise, reps=300, seed=3)
    assert r["diff"] > 0.2 and 0 < r["lo"] <= r["diff"] <= r["hi"]
    assert r["p_a_not_better"] == 0
    backwards = _compare().paired_difference(noise, perfect, reps=300, seed=3)
    assert backwards["diff"] == pytest.approx(-r["diff"]) and backwards["hi"] < 0


def test_only_videos_both_recipes_scored_are_compared() -> None:
    labels = np.arange(60) % 2
    a = _scores(labels.astype(float), labels)
    b = _scores(labels.astype(float), labels).iloc[:30]
    assert _compare().paired_difference(a, b, reps=50)["videos"] == 30
