"""Issue 12 C: Ctrl-C advice, exit codes, and messages that name the right file, flag or fix."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from _evaldata import save_tiny_checkpoint, write_test_set
from _splitdata import plain_rows, write_manifest
from _traindata import tiny_splits
from conftest import error_line
from dfdetect.cli import app
from dfdetect.prediction.predictor import CHECKPOINT_ENV

REPO = Path(__file__).resolve().parents[1]
ENV = {"COLUMNS": "200", CHECKPOINT_ENV: ""}
FAST = ["--frames", "4", "--size", "32", "--device", "cpu"]
TRAIN_FAST = ["--backbone", "test_resnet", "--hidden", "16", "--layers", "1", "--frames", "4", "--img-size", "32",
              "--no-pretrained", "--workers", "0", "--batch-size", "4", "--device", "cpu"]


def invoke(*args: str, env: dict | None = None):
    return CliRunner().invoke(app, [str(a) for a in args], env={**ENV, **(env or {})})


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from dfdetect.synth import make_clip

    root = tmp_path_factory.mktemp("messages")
    clip = make_clip(root / "videos" / "real_a.mp4", fake=False, seed=1, width=128, height=128, n_frames=6)
    run = root / "run"
    save_tiny_checkpoint(run / "best.ckpt", frames=4, img_size=32)
    return {"root": root, "clip": clip, "run": run, "test": write_test_set(root / "splits", "test", [0, 1, 0, 1])}


def _dfdetect(*args: str, cwd: Path, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200", CHECKPOINT_ENV: ""}
    # a shell without job control starts background jobs with SIGINT ignored, and Python keeps an
    # ignored SIGINT ignored; give the child the default, as a terminal's Ctrl-C would find it
    return subprocess.Popen([sys.executable, "-m", "dfdetect", *map(str, args)], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL), **kwargs)


def _wait_for(condition, proc: subprocess.Popen, limit: float = 240.0) -> None:
    """Poll until `condition()` holds (the process is mid-work); not a timing assertion."""
    deadline = time.monotonic() + limit
    while not condition():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the command never got going"
        time.sleep(0.2)


# ---------------------------------------------------------------- C1: Ctrl-C

def test_ctrl_c_in_train_names_the_resume_command(tmp_path: Path) -> None:
    train_csv, _ = tiny_splits(tmp_path / "splits")
    run = tmp_path / "runs" / "tiny"
    proc = _dfdetect("train", train_csv, "--out", run, "--epochs", "100000", *TRAIN_FAST, cwd=tmp_path)
    _wait_for(lambda: (run / "last.ckpt").is_file(), proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert f"dfdetect train --resume {run}" in err and "re-run the same command" not in err
    assert "Traceback" not in err


def test_ctrl_c_in_predict_says_interrupted_and_leaves_no_out_file(media: dict, tmp_path: Path) -> None:
    out = tmp_path / "results.csv"
    paths = [str(media["clip"])] * 400
    proc = _dfdetect("predict", *paths, "-c", media["run"], "--out", out, "--format", "csv", *FAST, cwd=tmp_path)
    lines: list[str] = []
    _wait_for(lambda: len(lines) >= 2 or lines.append(proc.stdout.readline()) or False, proc)  # header + a row
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "resume" not in err and "Traceback" not in err
    assert not out.exists() and not list(tmp_path.glob(".results.csv*"))  # no truncated file, no temp file


# ---------------------------------------------------------------- C2, C7: predict usage errors

def test_predict_unknown_detector_is_a_usage_error(media: dict) -> None:
    r = invoke("predict", media["clip"], "-c", media["run"], "--detector", "foo", "--format", "csv", *FAST)
    assert r.exit_code == 2 and "unknown detector 'foo'" in error_line(r) and r.stdout == ""


def test_predict_missing_checkpoint_from_env_names_the_variable(media: dict) -> None:
    r = invoke("predict", media["clip"], *FAST, env={CHECKPOINT_ENV: "missing-run"})
    assert r.exit_code == 2 and f"{CHECKPOINT_ENV}=missing-run" in error_line(r)
    r = invoke("predict", media["clip"], "-c", "missing-run", *FAST)
    assert r.exit_code == 2 and "--checkpoint missing-run" in error_line(r)


def test_predict_out_with_unknown_extension_is_refused(media: dict, tmp_path: Path) -> None:
    out = tmp_path / "o.xml"
    r = invoke("predict", media["clip"], "-c", media["run"], "--out", out, *FAST)
    assert r.exit_code == 2 and "'.xml'" in error_line(r) and not out.exists()


# ---------------------------------------------------------------- C3, C4: train and eval inputs

def test_train_missing_csv_fails_first_with_the_right_file_kind(tmp_path: Path) -> None:
    # pretrained weights stay on: the input check must come before any download is attempted
    r = invoke("train", tmp_path / "missing.csv", "--device", "cpu")
    line = error_line(r)
    assert r.exit_code == 1 and "missing.csv" in line and "train.csv" in line and "dfdetect split" in line
    train_csv, _ = tiny_splits(tmp_path / "splits")
    r = invoke("train", train_csv, "--val", tmp_path / "nope.csv", "--device", "cpu")
    assert r.exit_code == 1 and "--val" in error_line(r) and "val.csv" in r.stderr


def test_eval_missing_and_empty_test_csvs(media: dict, tmp_path: Path) -> None:
    r = invoke("eval", media["run"], tmp_path / "missing.csv", "--device", "cpu")
    assert r.exit_code == 1 and "test CSV written by `dfdetect split`" in error_line(r)
    empty = tmp_path / "empty.csv"
    empty.write_text(media["test"].read_text().splitlines()[0] + "\n")  # the header only
    r = invoke("eval", media["run"], media["test"], empty, "--device", "cpu")
    assert r.exit_code == 1 and "holds no videos" in error_line(r) and r.stdout == ""


# ---------------------------------------------------------------- C5, C6

def test_shard_with_zero_shards_says_n_must_be_positive(media: dict, tmp_path: Path) -> None:
    r = invoke("extract", media["clip"], "--out", tmp_path / "d", "--shard", "1/0")
    assert r.exit_code == 2 and "n must be at least 1" in error_line(r)


def test_refused_pickle_gives_no_pytorch_advice(media: dict, tmp_path: Path) -> None:
    import argparse

    import torch

    path = tmp_path / "pickled.ckpt"
    torch.save({"state_dict": {}, "args": argparse.Namespace(lr=1)}, path)
    r = invoke("predict", media["clip"], "-c", path, *FAST)
    line = error_line(r)
    assert "pickled code" in line and "argparse.Namespace" in line and "refused" in line
    assert "weights_only" not in line and "safe_globals" not in line


# ---------------------------------------------------------------- C8: split rebases sidecar paths

def test_split_rewrites_sidecar_relative_to_splits(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rows = plain_rows(10, 10)
    manifest = write_manifest(data, rows)
    df = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    df["sidecar"] = "faces/" + df["video_id"] + ".json"
    for name in df["sidecar"]:
        (data / name).write_text(json.dumps({"frames": []}))
    df.to_csv(manifest, index=False)
    out = tmp_path / "elsewhere" / "splits"
    r = invoke("split", data, "--out", out, "--test-ratios", "1:1")
    assert r.exit_code == 0, r.output
    written = pd.read_csv(out / "train.csv", dtype=str, keep_default_na=False)
    for faces, sidecar in zip(written["faces_file"], written["sidecar"]):
        assert (out / faces).is_file() and (out / sidecar).is_file(), sidecar


# ---------------------------------------------------------------- C9: run folders

def test_train_refuses_a_folder_holding_other_files(tmp_path: Path) -> None:
    train_csv, _ = tiny_splits(tmp_path / "splits")
    r = invoke("train", train_csv, "--out", tmp_path / "splits", *TRAIN_FAST)
    assert r.exit_code == 1 and "not a training run" in error_line(r) and "train.csv" in r.stderr
    assert not (tmp_path / "splits" / "config.json").exists()


def test_positional_csv_with_resume_must_match_the_run(tmp_path: Path) -> None:
    train_csv, val_csv = tiny_splits(tmp_path / "splits")
    run = tmp_path / "run"
    assert invoke("train", train_csv, "--out", run, "--epochs", "1", *TRAIN_FAST).exit_code == 0
    r = invoke("train", val_csv, "--resume", run, "--epochs", "2")
    assert r.exit_code == 1 and "cannot resume" in error_line(r) and "val.csv" in r.stderr


# ---------------------------------------------------------------- C10

def test_synth_huge_size_names_the_size(tmp_path: Path) -> None:
    r = invoke("synth", tmp_path / "big", "--size", "100000x100000", "--real", "1", "--fake", "0")
    assert r.exit_code == 2 and "100000x100000" in error_line(r) and "too large" in r.stderr
    assert not (tmp_path / "big").exists()
