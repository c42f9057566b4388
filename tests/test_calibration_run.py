"""Calibration end to end: a real tiny `train` stores it, `eval` and `predict` apply it, `--threshold`
overrides it, ensembles combine it, and uncalibrated checkpoints behave as before with one note."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _traindata import TINY_MODEL, tiny_splits, write_split
from conftest import wide_runner
from dfdetect.checkpoint import checkpoint_config, load_model, read_checkpoint, update_checkpoint_config
from dfdetect.cli import app
from dfdetect.evaluation.calibration import calibration_of, fit_calibration
from dfdetect.prediction.predictor import CHECKPOINT_ENV
from dfdetect.training import TrainConfig, train

pytestmark = pytest.mark.usefixtures("one_torch_thread")
QUICK = dict(TINY_MODEL, batch_size=4, lr=1e-3, workers=0, device="cpu", seed=0)
NOTE = "no calibration"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("calib")
    train_csv, val_csv = tiny_splits(root, n_train=6, n_val=6)
    test_csv = write_split(root, "test", 4, 4, seed=7)
    result = train(TrainConfig(str(train_csv), str(val_csv), epochs=2, out=str(root / "run"), **QUICK))
    raw = root / "raw" / "best.ckpt"  # the same weights with the calibration taken out: an old checkpoint
    raw.parent.mkdir()
    shutil.copy(result.run_dir / "best.ckpt", raw)
    update_checkpoint_config(raw, {"calibration": None})
    return {"root": root, "run": result.run_dir, "val": val_csv, "test": test_csv, "raw": raw}


def _raw_scores(ckpt: Path, csv_path: Path) -> dict[str, float]:
    """video_id -> the model's uncalibrated probability, from the scorer eval uses."""
    from dfdetect.scoring.inference import StackScorer

    model, config = load_model(ckpt)
    df = pd.read_csv(csv_path)
    stacks = [(v, np.load(csv_path.parent / f)) for v, f in zip(df["video_id"], df["faces_file"])]
    return {k: p for k, p, _ in StackScorer(model, config, "cpu", calibrated=False).score_many(stacks)}


def eval_cli(*args: str):
    return wide_runner().invoke(app, ["eval", *args, "--device", "cpu"])


def test_train_stores_the_calibration_fitted_on_validation(run) -> None:
    stored = checkpoint_config(read_checkpoint(run["run"] / "best.ckpt"))["calibration"]
    assert json.loads((run["run"] / "config.json").read_text())["calibration"] == stored
    assert "calibration" not in checkpoint_config(read_checkpoint(run["run"] / "last.ckpt"))  # other weights
    assert stored["policy"] == "balanced" and stored["method"] in ("temperature", "platt")
    assert (stored["n_val"], stored["n_val_fake"], stored["n_val_real"]) == (12, 6, 6)
    assert 0.0 < stored["threshold"] < 1.0 and stored["temperature"] > 0
    # refitting on the validation videos' raw scores from best.ckpt gives the same record
    raw = _raw_scores(run["run"] / "best.ckpt", run["val"])
    labels = [int("_fake_" in v) for v in raw]
    again = fit_calibration(labels, list(raw.values()), "balanced").to_dict()
    assert again["threshold"] == pytest.approx(stored["threshold"], abs=1e-5)
    assert again["temperature"] == pytest.approx(stored["temperature"], rel=1e-4)


def test_eval_applies_it_and_threshold_overrides(run) -> None:
    out, scores, html = (run["root"] / n for n in ("res.csv", "scores.csv", "report.html"))
    r = eval_cli(str(run["run"]), str(run["test"]), "--out", str(out), "--scores", str(scores), "--report", str(html))
    assert r.exit_code == 0, r.output
    assert NOTE not in r.stderr
    cal = calibration_of(checkpoint_config(read_checkpoint(run["run"] / "best.ckpt")))
    raw = _raw_scores(run["run"] / "best.ckpt", run["test"])
    video = pd.read_csv(scores).query("level == 'video'").set_index("video_id")["prob"]
    for vid, p in raw.items():
        assert video[vid] == pytest.approx(float(cal.apply(p)), abs=1e-9)
        assert not np.isclose(video[vid], p, atol=1e-4)  # the map really moved it
    row = pd.read_csv(out).iloc[0]
    assert row["threshold"] == pytest.approx(cal.threshold)
    y = np.array([int("_fake_" in v) for v in video.index])
    called = video.to_numpy() >= cal.threshold
    assert row["balanced_acc"] == pytest.approx(((called[y == 1]).mean() + (~called[y == 0]).mean()) / 2)
    for col in ("brier", "ece", "tpr_at_fpr_1pct", "tpr_at_fpr_5pct", "precision_at_prior"):
        assert 0.0 <= row[col] <= 1.0, col
    assert row["brier"] == pytest.approx(np.mean((video.to_numpy() - y) ** 2))
    assert "Reliability diagram" in html.read_text()
    assert "calibration · threshold" in r.stdout and "Prec@prior" in r.stdout  # its own table on stdout

    r = eval_cli(str(run["run"]), str(run["test"]), "--out", str(out), "--threshold", "0.9", "--prior", "1:10")
    assert r.exit_code == 0, r.output
    assert "threshold 0.9" in r.stdout
    assert pd.read_csv(out).iloc[0]["threshold"] == pytest.approx(0.9)
    r = eval_cli(str(run["run"]), str(run["test"]), "--prior", "10")
    assert r.exit_code == 2 and "--prior" in r.output


def test_ensembles_average_thresholds_and_refuse_mixed_members(run) -> None:
    other = run["root"] / "other" / "best.ckpt"
    other.parent.mkdir(exist_ok=True)
    shutil.copy(run["run"] / "best.ckpt", other)
    stored = checkpoint_config(read_checkpoint(other))["calibration"]
    update_checkpoint_config(other, {"calibration": {**stored, "threshold": 0.2}})
    out = run["root"] / "ens.csv"
    r = eval_cli(str(run["run"]), str(run["test"]), "--ensemble", str(other), "--out", str(out))
    assert r.exit_code == 0, r.output
    assert pd.read_csv(out).iloc[0]["threshold"] == pytest.approx((stored["threshold"] + 0.2) / 2)
    r = eval_cli(str(run["run"]), str(run["test"]), "--ensemble", str(run["raw"]))
    assert r.exit_code == 2 and "cannot ensemble calibrated" in r.output


def test_an_uncalibrated_checkpoint_behaves_as_before_with_one_note(run) -> None:
    out, scores = run["root"] / "raw.csv", run["root"] / "raw_scores.csv"
    r = eval_cli(str(run["raw"]), str(run["test"]), "--out", str(out), "--scores", str(scores))
    assert r.exit_code == 0, r.output
    assert r.stderr.count(NOTE) == 1
    assert pd.read_csv(out).iloc[0]["threshold"] == 0.5
    raw = _raw_scores(run["raw"], run["test"])
    video = pd.read_csv(scores).query("level == 'video'").set_index("video_id")["prob"]
    assert all(video[v] == pytest.approx(p, abs=1e-9) for v, p in raw.items())


def test_the_bundled_default_model_applies_its_views_calibration(run) -> None:
    """The bundled file carries the CV policy's calibration (experiments/robustness/README.md): eval
    uses its threshold, its fake_prob is the calibrated raw score, and no "no calibration" note."""
    from dfdetect.default_model import default_checkpoint, metadata

    ckpt = default_checkpoint()
    config = checkpoint_config(read_checkpoint(ckpt))
    calibration = calibration_of(config)
    assert calibration is not None and config["calibration"] == metadata()["calibration"]
    assert config["calibration"]["fitted_on"].startswith("CV") and calibration.policy == "balanced"
    out, scores = run["root"] / "default.csv", run["root"] / "default_scores.csv"
    test = write_split(run["root"], "test_big", 2, 2, seed=9, size=160, faces_dir="faces160")  # its crops are 160 px
    r = eval_cli("default", str(test), "--out", str(out), "--scores", str(scores))
    assert r.exit_code == 0, r.output
    assert NOTE not in r.stderr
    assert pd.read_csv(out).iloc[0]["threshold"] == pytest.approx(calibration.threshold)
    raw = _raw_scores(ckpt, test)
    video = pd.read_csv(scores).query("level == 'video'").set_index("video_id")["prob"]
    assert all(video[v] == pytest.approx(float(calibration.apply(p)), abs=1e-6) for v, p in raw.items())


def test_predict_applies_it_and_threshold_overrides(run) -> None:
    from dfdetect.synth import make_clip

    clips = [str(make_clip(run["root"] / "clips" / f"c{i}.mp4", fake=bool(i), seed=i, width=128, height=128,
                           n_frames=6)) for i in range(2)]
    fast = ["--frames", "4", "--size", "32", "--device", "cpu", "--format", "json"]

    def predict(ckpt: Path, *extra: str):
        r = wide_runner(**{CHECKPOINT_ENV: ""}).invoke(app, ["predict", *clips, "-c", str(ckpt), *fast, *extra])
        assert r.exit_code == 0, r.output
        return r.stdout, r.stderr

    cal = calibration_of(checkpoint_config(read_checkpoint(run["run"] / "best.ckpt")))
    calibrated, err = predict(run["run"])
    raw, raw_err = predict(run["raw"])
    calibrated, raw = json.loads(calibrated), json.loads(raw)
    assert NOTE not in err and raw_err.count(NOTE) == 1
    for c, u in zip(calibrated, raw):
        assert c["threshold"] == pytest.approx(cal.threshold) and u["threshold"] == 0.5
        assert c["fake_prob"] == pytest.approx(float(cal.apply(u["fake_prob"])), abs=1e-4)  # 6-decimal rounding
        assert c["verdict"] == ("fake" if c["fake_prob"] >= cal.threshold else "real")
    forced, _ = predict(run["run"], "--threshold", "0", "--format", "csv")  # the last --format wins
    rows = list(csv.DictReader(io.StringIO(forced)))
    assert len(rows) == 2
    assert all(float(r["threshold"]) == 0.0 and r["verdict"] == "fake" for r in rows)


def test_frames_out_keeps_raw_frames_and_adds_calibrated_ones(run) -> None:
    """--frames-out CSV: `prob` stays raw for both checkpoints; the calibrated one adds `calibrated`."""
    from dfdetect.synth import make_clip

    clip = str(make_clip(run["root"] / "frames_clip.mp4", fake=True, seed=3, width=128, height=128, n_frames=6))
    cal = calibration_of(checkpoint_config(read_checkpoint(run["run"] / "best.ckpt")))
    tables = {}
    for name, ckpt in (("calibrated", run["run"]), ("raw", run["raw"])):
        out = run["root"] / f"frames_{name}"
        r = wide_runner(**{CHECKPOINT_ENV: ""}).invoke(app, [
            "predict", clip, "-c", str(ckpt), "--frames", "4", "--size", "32", "--device", "cpu",
            "--format", "json", "--frames-out", str(out)])
        assert r.exit_code == 0, r.output
        tables[name] = pd.read_csv(next(out.glob("*.csv")))
        assert next(out.glob("*.png")).stat().st_size > 0
    assert "calibrated" not in tables["raw"].columns
    calibrated = tables["calibrated"]
    assert np.allclose(calibrated["prob"], tables["raw"]["prob"], atol=1e-6)  # the same weights, raw frames
    assert np.allclose(calibrated["calibrated"], cal.apply(calibrated["prob"].to_numpy()), atol=1e-5)


def test_no_validation_set_means_no_calibration(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    train_csv, _ = tiny_splits(tmp_path, n_train=3, n_val=1)
    result = train(TrainConfig(str(train_csv), None, epochs=1, out=str(tmp_path / "run"), **QUICK))
    assert capfd.readouterr().err.count("no --val set: no calibration") == 1
    assert "calibration" not in checkpoint_config(read_checkpoint(result.run_dir / "best.ckpt"))
    assert "calibration" not in json.loads((result.run_dir / "config.json").read_text())
