"""Issue 12 B: outputs checked before the work, one-line OSErrors, a full disk, paths too long,
and run folders that a failed first `train` does not poison."""

from __future__ import annotations

import csv
import io
import math
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from _evaldata import save_tiny_checkpoint, write_test_set
from _traindata import TINY_MODEL, tiny_splits
from conftest import error_line as one_line_error
from dfdetect.cli import app
from dfdetect.errors import DfdetectError
from dfdetect.prediction.predictor import CHECKPOINT_ENV
from dfdetect.training import TrainConfig, train

REPO = Path(__file__).resolve().parents[1]
ENV = {"COLUMNS": "200", CHECKPOINT_ENV: ""}
FAST = ["--frames", "4", "--size", "32", "--device", "cpu"]
LONG_NAME = "x" * 300 + ".mp4"  # longer than NAME_MAX (255) on every common file system
TRAIN_FAST = ["--backbone", "test_resnet", "--hidden", "16", "--layers", "1", "--frames", "4", "--img-size", "32",
              "--no-pretrained", "--workers", "0", "--batch-size", "4", "--device", "cpu"]


def invoke(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args], env=ENV)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from dfdetect.synth import make_clip

    root = tmp_path_factory.mktemp("outputs")
    clip = make_clip(root / "videos" / "real_a.mp4", fake=False, seed=1, width=128, height=128, n_frames=6)
    run = root / "run"
    save_tiny_checkpoint(run / "best.ckpt", frames=4, img_size=32)
    test_csv = write_test_set(root / "splits", "test", [0, 1, 0, 1])
    blocker = root / "blocker"  # a file where a folder would have to be
    blocker.write_text("not a folder")
    return {"root": root, "clip": clip, "run": run, "test": test_csv, "blocker": blocker}


# ---------------------------------------------------------------- B1, B3: checked before the work

@pytest.mark.parametrize("command", ["extract", "split", "synth", "train", "eval", "predict"])
def test_an_output_under_a_file_is_one_line_before_any_work(media: dict, command: str) -> None:
    target = media["blocker"] / "sub"
    args = {
        "extract": ["extract", media["clip"], "--out", target],
        "split": ["split", media["test"], "--out", target],
        "synth": ["synth", target, "--real", "1", "--fake", "1"],
        "train": ["train", media["test"], "--out", target, *TRAIN_FAST],
        "eval": ["eval", media["run"], media["test"], "--out", target / "results.csv", "--device", "cpu"],
        "predict": [
            "predict", media["clip"], "-c", media["run"], "--out", target / "o.csv", "--format", "csv", *FAST],
    }[command]
    r = invoke(*args)
    assert r.exit_code in (1, 2), r.output
    line = one_line_error(r)
    assert "is a file" in line and str(media["blocker"]) in line
    assert r.stdout == ""  # eval printed no table, predict no CSV header: nothing ran


def test_train_out_file_and_eval_plot_file_are_one_line_errors(media: dict) -> None:
    r = invoke("train", media["test"], "--out", media["blocker"], *TRAIN_FAST)
    assert r.exit_code in (1, 2) and "is a file, not a folder" in one_line_error(r)
    r = invoke("eval", media["run"], media["test"], "--plot", media["blocker"], "--device", "cpu")
    assert r.exit_code in (1, 2) and "--plot" in one_line_error(r) and r.stdout == ""


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_is_refused_before_the_work(media: dict, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        r = invoke("predict", media["clip"], "-c", media["run"], "--out", locked / "o.csv", "--format", "csv", *FAST)
        assert r.exit_code == 1 and "cannot write" in one_line_error(r) and r.stdout == ""
        r = invoke("split", media["test"], "--out", locked / "splits")
        assert r.exit_code == 1 and "cannot write" in one_line_error(r)
    finally:
        locked.chmod(0o755)


def _limit_file_size() -> None:
    # files may not grow past 64 KiB: writes fail like on a full disk (EFBIG, not a SIGXFSZ kill)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs RLIMIT_FSIZE")
def test_full_disk_stops_extract_with_one_line(media: dict, tmp_path: Path) -> None:
    from dfdetect.synth import make_clip

    videos = tmp_path / "videos"
    for i in range(3):
        make_clip(videos / f"clip{i}.mp4", fake=False, seed=i, width=128, height=128, n_frames=8)
    out = tmp_path / "data"
    # 8 frames of 128x128x3 = 384 KiB per stack: the first write already hits the limit
    proc = subprocess.run(
        [sys.executable, "-m", "dfdetect", "extract", str(videos), "--out", str(out), "--frames", "8", "--size", "128"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"},
        preexec_fn=_limit_file_size, timeout=300,
    )
    assert proc.returncode == 1, proc.stderr
    assert "disk full" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stderr.count("disk full") == 1  # stopped at the first video, not one error per video
    assert not list((out / "faces").glob("*.npy"))  # and left no half-written stack


# ---------------------------------------------------------------- B2: a path too long is an error row

def test_predict_path_too_long_is_an_error_row_and_the_batch_goes_on(media: dict) -> None:
    long_path = str(media["root"] / LONG_NAME)
    r = invoke("predict", media["clip"], long_path, media["clip"], "-c", media["run"], "--format", "csv", *FAST)
    assert r.exit_code == 1, r.output
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [row["status"] for row in rows] == ["ok", "error", "ok"]
    assert "too long" in rows[1]["error"].lower()


def test_extract_path_too_long_is_an_error_row_and_the_batch_goes_on(media: dict, tmp_path: Path) -> None:
    out = tmp_path / "data"
    r = invoke("extract", media["clip"], media["root"] / LONG_NAME, "--out", out, "--frames", "2", "--size", "32")
    assert r.exit_code == 1, r.output
    import pandas as pd

    rows = pd.read_csv(out / "manifest.csv", dtype=str, keep_default_na=False)
    assert sorted(rows["status"]) == ["error", "ok"]
    assert "too long" in rows.loc[rows["status"] == "error", "error"].iloc[0].lower()


# ---------------------------------------------------------------- B4: a failed first train

def test_failed_first_train_leaves_nothing_and_the_same_command_then_works(tmp_path: Path) -> None:
    train_csv, _ = tiny_splits(tmp_path / "splits")
    out = tmp_path / "run"
    quick = dict(TINY_MODEL, batch_size=4, workers=0, device="cpu", epochs=1)
    with pytest.raises(DfdetectError, match="loss is nan"):
        train(TrainConfig(str(train_csv), out=str(out), lr=math.inf, **quick))  # diverges in epoch 1
    assert not out.exists()
    result = train(TrainConfig(str(train_csv), out=str(out), lr=1e-3, **quick))
    assert (result.run_dir / "last.ckpt").is_file() and (result.run_dir / "config.json").is_file()


def test_folder_with_only_config_json_counts_as_new_and_cannot_be_resumed(tmp_path: Path) -> None:
    train_csv, _ = tiny_splits(tmp_path / "splits")
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text("{}")  # left by a failed run of an older dfdetect
    r = invoke("train", "--resume", out)
    assert r.exit_code == 1 and "stopped before its first epoch" in one_line_error(r)
    r = invoke("train", train_csv, "--out", out, "--epochs", "1", *TRAIN_FAST)
    assert r.exit_code == 0, r.output
    assert (out / "last.ckpt").is_file()


# ---------------------------------------------------------------- B5: a refused option writes nothing

@pytest.mark.parametrize("options", [["--detector", "foo"], ["--detector", "dlib-cnn", "--detector-model", "missing.dat"]])
def test_refused_detector_writes_nothing_and_the_corrected_command_runs(media: dict, tmp_path: Path, options) -> None:
    out = tmp_path / "data"
    r = invoke("extract", media["clip"], "--out", out, "--frames", "2", "--size", "32", *options)
    assert r.exit_code in (1, 2)
    one_line_error(r)
    assert not out.exists()
    r = invoke("extract", media["clip"], "--out", out, "--frames", "2", "--size", "32")
    assert r.exit_code == 0, r.output
