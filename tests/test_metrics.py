"""Metrics against values computed by hand on tiny score sets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dfdetect.evaluation.metrics import (
    ONE_CLASS_NOTE,
    aggregate_repeats,
    compute_metrics,
    equal_error_rate,
    format_ratio,
    frames_with_video_labels,
    mean_std,
    ratio_from_name,
    split_repeat,
)


def test_metrics_hand_computed() -> None:
    # fake/real pairs: (.35>.1) (.35<.4) (.8>.1) (.8>.4) -> AUC 3/4
    # ranking .8(F) .4(R) .35(F) .1(R): AP = .5*1 + .5*(2/3)
    # at 0.5 only .8 is called fake: acc 3/4, precision 1, recall 1/2, F1 2/3, balanced (1+.5)/2
    m = compute_metrics([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], threshold=0.5)
    assert m["auc"] == pytest.approx(0.75)
    assert m["ap"] == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert m["eer"] == pytest.approx(0.5)  # threshold .4: fpr = fnr = .5
    assert m["acc"] == pytest.approx(0.75)
    assert m["precision"] == pytest.approx(1.0)
    assert m["recall"] == pytest.approx(0.5)
    assert m["f1"] == pytest.approx(2 / 3)
    assert m["balanced_acc"] == pytest.approx(0.75)
    assert (m["n_real"], m["n_fake"], m["note"]) == (2, 2, "")
    assert m["frame_auc"] is None and m["frame_ap"] is None


def test_metrics_with_ties() -> None:
    # a tied fake/real pair counts one half: (0.5 + 1 + 1 + 1) / 4
    labels, scores = [0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9]
    m = compute_metrics(labels, scores, threshold=0.5)
    assert m["auc"] == pytest.approx(0.875)
    assert m["ap"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    # ROC (0,0) (0,.5) (.5,1) (1,1): fpr and fnr cross half way along the second segment
    assert m["eer"] == pytest.approx(0.25)
    # score == threshold is "fake": predictions 1,1,0,1
    assert m["acc"] == pytest.approx(0.75)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(1.0)
    assert m["f1"] == pytest.approx(0.8)
    assert m["balanced_acc"] == pytest.approx(0.75)


def test_perfect_and_reversed_rankings() -> None:
    assert equal_error_rate([0, 0, 1], [0.1, 0.2, 0.9]) == pytest.approx(0.0)
    assert equal_error_rate([0, 1], [0.9, 0.1]) == pytest.approx(1.0)
    m = compute_metrics([0, 1], [0.9, 0.1])
    assert m["auc"] == pytest.approx(0.0)  # AUC from probabilities, not flipped
    assert m["acc"] == pytest.approx(0.0)


@pytest.mark.parametrize("label", [0, 1])
def test_one_class_set_has_no_ranking_metrics(label: int) -> None:
    m = compute_metrics([label] * 3, [0.2, 0.7, 0.9], [label] * 6, [0.1] * 6, threshold=0.5)
    assert m["auc"] is None and m["ap"] is None and m["eer"] is None
    assert m["frame_auc"] is None and m["frame_ap"] is None
    assert m["note"] == ONE_CLASS_NOTE
    assert m["acc"] == pytest.approx(2 / 3 if label == 1 else 1 / 3)
    assert m["balanced_acc"] == pytest.approx(m["acc"])


def test_empty_set_does_not_crash() -> None:
    m = compute_metrics([], [])
    assert m["auc"] is None and m["acc"] is None and m["note"] == "no scored videos"


def test_frame_level_metrics_use_video_labels() -> None:
    labels, scores = frames_with_video_labels([0, 1], [np.array([0.1, 0.6]), np.array([0.5, 0.9, 0.7])])
    assert labels.tolist() == [0, 0, 1, 1, 1]
    m = compute_metrics([0, 1], [0.3, 0.7], labels, scores)
    # pairs fake x real: (.5>.1)(.5<.6)(.9>.1)(.9>.6)(.7>.1)(.7>.6) -> 5/6
    assert m["frame_auc"] == pytest.approx(5 / 6)
    # ranking .9F .7F .6R .5F .1R: AP = (1 + 1 + 3/4) / 3
    assert m["frame_ap"] == pytest.approx((1 + 1 + 0.75) / 3)


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError, match=r"labels \(2\) and scores \(1\) differ in length"):
        compute_metrics([0, 1], [0.1])
    with pytest.raises(ValueError, match=r"labels must be 0 \(real\) or 1 \(fake\)"):
        compute_metrics([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="scores hold NaN or infinite values"):
        compute_metrics([0, 1], [0.1, float("nan")])


def test_repeat_names_and_ratios() -> None:
    assert split_repeat("test_1to100_r3") == ("test_1to100", 3)
    assert split_repeat("test_1to10") == ("test_1to10", None)
    assert ratio_from_name("test_1to100_r0") == (1, 100)
    assert ratio_from_name("test") is None
    assert format_ratio((1, 20)) == "1:20"
    assert format_ratio(None, n_real=30, n_fake=10) == "1:3"
    assert format_ratio(None, n_real=0, n_fake=4) == "n/a"


def test_mean_std_over_repeats() -> None:
    mean, std, n = mean_std([0.8, 0.9, None])
    assert (mean, n) == (pytest.approx(0.85), 2)
    assert std == pytest.approx(math.sqrt(((0.05) ** 2 * 2) / 1))
    assert mean_std([0.7]) == (pytest.approx(0.7), 0.0, 1)
    assert mean_std([None]) == (None, None, 0)
    rows = [
        {"n_real": 10, "n_fake": 1, "auc": 0.8, "note": ""},
        {"n_real": 10, "n_fake": 1, "auc": 0.6, "note": ""},
    ]
    agg = aggregate_repeats(rows, metrics=["auc", "ap"])
    assert agg["repeats"] == 2 and agg["n_real"] == 10
    assert agg["auc"] == pytest.approx(0.7) and agg["auc_std"] == pytest.approx(math.sqrt(0.02))
    assert agg["ap"] is None and agg["ap_std"] is None
