"""Checkpoint ensembles: `predict -c A -c B`, `eval A --ensemble B`, and the scorer under them."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from dfdetect.cli import app
from dfdetect.prediction.predictor import CHECKPOINT_ENV

from _evaldata import make_stack, save_tiny_checkpoint, tiny_model, write_test_set

ENV = {"COLUMNS": "200", CHECKPOINT_ENV: ""}


def _config(model, frames: int, img_size: int) -> dict:
    cfg = dict(model.input_cfg)
    return {"model": "dual", "img_size": img_size, "frames": frames, "mean": list(cfg["mean"]), "std": list(cfg["std"])}


def test_ensemble_scores_are_the_members_mean_probabilities() -> None:
    from dfdetect.scoring.ensemble import EnsembleScorer
    from dfdetect.scoring.inference import StackScorer

    # members differ in seed, clip length and input size: each still reads the same crops its own way
    specs = [(4, 32, 0), (4, 32, 1), (2, 24, 2)]
    scorers = []
    for frames, size, seed in specs:
        model, _ = tiny_model("dual", frames, size, seed)
        scorers.append(StackScorer(model, _config(model, frames, size), "cpu", "mean", batch_size=3))
    stacks = [(f"v{i}", make_stack(bool(i % 2), seed=i, frames=5 + i)) for i in range(5)]
    stacks.append(("empty", np.zeros((0, 32, 32, 3), np.uint8)))
    singles = [{k: (v, f) for k, v, f in s.score_many(stacks)} for s in scorers]
    ensemble = EnsembleScorer(scorers, ["a", "b", "c"])
    got = list(ensemble.score_many(iter(stacks)))  # a one-pass iterator, as eval streams its stacks

    assert [k for k, _, _ in got] == [k for k, _ in stacks]
    for key, video, frames in got[:-1]:
        members = [s[key] for s in singles]
        assert not np.isclose(members[0][0], members[1][0])  # the members really disagree
        assert video == pytest.approx(np.mean([m[0] for m in members]), abs=1e-9)
        np.testing.assert_allclose(frames, np.mean([m[1] for m in members], axis=0), atol=1e-9)
        assert len(frames) == len(dict(stacks)[key])
    assert np.isnan(got[-1][1]) and len(got[-1][2]) == 0
    assert ensemble.forward_seconds == pytest.approx(sum(s.forward_seconds for s in scorers))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("ensemble")
    a = save_tiny_checkpoint(root / "a" / "best.ckpt", frames=4, img_size=32, seed=0)
    b = save_tiny_checkpoint(root / "b" / "best.ckpt", frames=4, img_size=32, seed=1)
    test = write_test_set(root / "data", "test", [0, 1, 0, 1, 0, 1], seed=3)
    return {"root": root, "a": a.parent, "b": b.parent, "test": test}


def _eval_scores(args: list[str], out: Path) -> tuple[pd.DataFrame, str]:
    r = CliRunner().invoke(app, ["eval", *args, "--scores", str(out), "--device", "cpu"], env=ENV)
    assert r.exit_code == 0, r.output
    frame = pd.read_csv(out)
    return frame[frame["level"] == "video"].set_index("video_id")["prob"], r.stdout


def test_eval_ensemble_averages_the_members(runs: dict) -> None:
    root = runs["root"]
    a, _ = _eval_scores([str(runs["a"]), str(runs["test"])], root / "a.csv")
    b, _ = _eval_scores([str(runs["b"]), str(runs["test"])], root / "b.csv")
    both, out = _eval_scores([str(runs["a"]), str(runs["test"]), "--ensemble", str(runs["b"])], root / "ab.csv")
    assert not np.allclose(a.values, b.values)
    pd.testing.assert_series_equal(both, ((a + b) / 2).rename(both.name), atol=1e-5, check_names=False)
    assert "ensemble of 2" in out


def test_predict_with_two_checkpoints_averages_them(runs: dict) -> None:
    from dfdetect.synth import make_clip

    video = make_clip(runs["root"] / "v" / "clip.mp4", fake=True, seed=4, width=128, height=128, n_frames=6)
    fast = ["--frames", "4", "--size", "32", "--device", "cpu", "--format", "csv"]

    def prob(*checkpoints: Path) -> float:
        args = [x for c in checkpoints for x in ("-c", str(c))]
        r = CliRunner().invoke(app, ["predict", str(video), *args, *fast], env=ENV)
        assert r.exit_code == 0, r.output
        row, = csv.DictReader(io.StringIO(r.stdout))
        return float(row["fake_prob"])

    pa, pb, pab = prob(runs["a"]), prob(runs["b"]), prob(runs["a"], runs["b"])
    assert pa != pytest.approx(pb, abs=1e-4)
    assert pab == pytest.approx((pa + pb) / 2, abs=2e-6)  # results are rounded to 6 places


def test_members_trained_on_other_crops_and_explain_are_refused(runs: dict) -> None:
    from dfdetect.checkpoint import save_checkpoint

    model, options = tiny_model("dual", 4, 32, 5)
    config = {**_config(model, 4, 32), "model_options": options, "extraction": {"size": 64, "scale": 1.3}}
    other = runs["root"] / "c.ckpt"
    save_checkpoint(other, model, config)
    a_config = {**_config(model, 4, 32), "model_options": options, "extraction": {"size": 32, "scale": 1.3}}
    first = runs["root"] / "d.ckpt"
    save_checkpoint(first, model, a_config)
    r = CliRunner().invoke(app, ["eval", str(first), str(runs["test"]), "--ensemble", str(other)], env=ENV)
    assert r.exit_code == 2, r.output
    assert f"{other}: trained on crops of size 64" in r.output

    video = runs["root"] / "x.mp4"
    video.write_bytes(b"")
    r = CliRunner().invoke(app, ["predict", str(video), "-c", str(runs["a"]), "-c", str(runs["b"]),
                                 "--explain", str(runs["root"] / "cams"), "--device", "cpu"], env=ENV)
    assert r.exit_code == 2, r.output
    assert "--explain explains one model" in r.output
