"""The experiment primitive (dfdetect.benchmarking.experiment.run_experiment): train one config,
score its test sets with the one scorer, return a result row and per-video scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dfdetect.benchmarking.experiment import run_experiment
from dfdetect.errors import DfdetectError, UsageError
from dfdetect.training import TrainConfig

TINY = dict(model="meso4", loss="bce", epochs=1, frames=4, img_size=32, batch_size=4, lr=1e-3, pretrained=False,
            workers=0, device="cpu", augment=[], seed=3)


@pytest.fixture(scope="module")
def saved_run(splits, tmp_path_factory: pytest.TempPathFactory, one_torch_thread) -> dict:
    train, val = splits
    out = tmp_path_factory.mktemp("exp") / "run"
    result = run_experiment(TrainConfig(train_csv=str(train), val_csv=str(val), **TINY), [val, train], out)
    return {"result": result, "out": out, "train": train, "val": val}


def test_a_saved_run_is_scored_by_the_eval_scorer(saved_run: dict) -> None:
    from dfdetect.evaluation.evaluate import EvalOptions, evaluate

    result, out = saved_run["result"], saved_run["out"]
    assert result.run_dir == out and result.trained
    assert (out / "best.ckpt").is_file() and (out / "last.ckpt").is_file()
    assert len(result.train_losses) == 1 and all(np.isfinite(result.train_losses))
    # the same numbers `dfdetect eval RUN val.csv train.csv` gives for best.ckpt
    again = evaluate(out, [saved_run["val"], saved_run["train"]], EvalOptions(device="cpu"))
    for ours, theirs in zip(result.report.sets, again.sets):
        assert ours.video_ids == theirs.video_ids
        np.testing.assert_allclose(ours.video_scores, theirs.video_scores, rtol=1e-6)
    row = result.row(0)
    assert row["set"] == "val" and row["auc"] == pytest.approx(again.sets[0].metrics["auc"])
    assert row["test_real"] == 4 and row["test_fake"] == 4 and row["final_train_loss"] == result.train_losses[-1]
    scores = result.scores()
    assert list(scores.columns) == ["set", "video_id", "label", "score"]
    assert len(scores) == 8 + 12 and set(scores["set"]) == {"val", "train"}
    assert scores["score"].between(0, 1).all()


def test_resume_scores_a_finished_run_without_training_it_again(saved_run: dict) -> None:
    result, out = saved_run["result"], saved_run["out"]
    stamp = (out / "best.ckpt").stat().st_mtime_ns
    config = TrainConfig(train_csv=str(saved_run["train"]), val_csv=str(saved_run["val"]), **TINY)
    again = run_experiment(config, [saved_run["val"]], out, resume=True)
    assert not again.trained and again.train_losses == []
    assert (out / "best.ckpt").stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(again.test_set().video_scores, result.test_set().video_scores)
    # without resume or overwrite a finished run is never overwritten
    with pytest.raises(DfdetectError):
        run_experiment(config, [saved_run["val"]], out)


def test_in_memory_run_writes_no_checkpoint_and_repeats_with_the_seed(splits, tmp_path: Path, one_torch_thread) -> None:
    train, val = splits
    config = TrainConfig(train_csv=str(train), **TINY)
    first = run_experiment(config, [val], tmp_path / "a", save=False)
    second = run_experiment(config, [val], tmp_path / "b", save=False)
    assert not list(tmp_path.rglob("*.ckpt"))
    np.testing.assert_array_equal(first.test_set().video_scores, second.test_set().video_scores)
    assert first.row()["auc"] == second.row()["auc"] is not None


def test_bad_arguments_are_usage_errors(splits, tmp_path: Path) -> None:
    train, val = splits
    config = TrainConfig(train_csv=str(train), **TINY)
    with pytest.raises(UsageError, match="checkpoint must be one of best, last"):
        run_experiment(config, [val], tmp_path / "x", checkpoint="worst")
    with pytest.raises(UsageError, match="at least one test CSV"):
        run_experiment(config, [], tmp_path / "y")
