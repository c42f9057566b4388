"""The bundled default detector: `dfdetect predict video.mp4` with no checkpoint."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from dfdetect.cli import app
from dfdetect.default_model import ASSETS, CHECKPOINT_FILE, METADATA_FILE, default_checkpoint, sha256_of
from dfdetect.errors import DfdetectError
from dfdetect.prediction.predictor import CHECKPOINT_ENV

from conftest import fixture_clip, wide_runner

REPO = Path(__file__).resolve().parents[1]
FAST = ["--frames", "8", "--device", "cpu"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[Path]:
    from dfdetect.synth import make_clip

    root = tmp_path_factory.mktemp("default_model")
    return [make_clip(root / f"clip{i}.mp4", fake=bool(i), seed=i, width=160, height=160, n_frames=10) for i in range(2)]


def test_bundled_checkpoint_is_small_verified_and_self_describing():
    meta = json.loads((ASSETS / METADATA_FILE).read_text())
    path = ASSETS / CHECKPOINT_FILE
    assert path.stat().st_size < 10 * 1024 * 1024  # at most 10 MB in the package
    assert meta["sha256"] == sha256_of(path) and default_checkpoint() == path
    from dfdetect.checkpoint import load_model

    model, config = load_model("default", device="cpu")
    for key in ("img_size", "frames", "mean", "std", "extraction", "bundled"):
        assert config.get(key) is not None, key
    assert config["bundled"]["recipe"] == meta["recipe"] and "FaceForensics++" in config["bundled"]["trained_on"]
    assert all(p.dtype.is_floating_point for p in model.parameters())


def test_a_corrupted_copy_is_refused(tmp_path):
    copy = tmp_path / "assets"
    shutil.copytree(ASSETS, copy)
    data = bytearray((copy / CHECKPOINT_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / CHECKPOINT_FILE).write_bytes(bytes(data))
    with pytest.raises(DfdetectError, match="bundled default model is corrupted .*reinstall dfdetect"):
        default_checkpoint(copy)


def test_predict_without_a_checkpoint_uses_it_and_says_so_once(clips):
    r = wide_runner(**{CHECKPOINT_ENV: ""}).invoke(app, ["predict", *map(str, clips), "--format", "csv", *FAST])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [row["status"] for row in rows] == ["ok", "ok"]
    assert all(0.0 <= float(row["fake_prob"]) <= 1.0 for row in rows)
    assert r.stderr.count("using the bundled default model") == 1  # once per run, not per video
    assert "not a forensic verdict" in r.stderr


def test_checkpoint_default_names_it_and_eval_accepts_it(clips, tmp_path):
    r = wide_runner(**{CHECKPOINT_ENV: ""}).invoke(app, ["predict", str(clips[0]), "-c", "default", "--format", "csv", *FAST])
    assert r.exit_code == 0 and "using the bundled default model" not in r.stderr  # named explicitly: no note
    data = tmp_path / "data"
    r = wide_runner().invoke(app, ["extract", *map(str, clips), "--label", "real", "--out", str(data), "--frames", "8"])
    assert r.exit_code == 0, r.output
    r = wide_runner().invoke(app, ["eval", "default", str(data / "manifest.csv"), "--device", "cpu"])
    assert r.exit_code == 0, r.output  # one-class set: AUC n/a, but scored
    assert "manifest" in r.stdout


def test_on_a_real_fixture_clip():
    clip = fixture_clip("dagan_driving.mp4")
    r = wide_runner(**{CHECKPOINT_ENV: ""}).invoke(app, ["predict", str(clip), "--format", "json", *FAST])
    assert r.exit_code == 0, r.output
    (row,) = json.loads(r.stdout)
    assert row["status"] == "ok" and 0.0 <= row["fake_prob"] <= 1.0


@pytest.mark.slow
def test_the_wheel_carries_the_model_and_predicts_from_it(tmp_path, clips):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(wheels)], check=True, capture_output=True)
    (wheel,) = wheels.glob("dfdetect-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert f"dfdetect/assets/{CHECKPOINT_FILE}" in names and f"dfdetect/assets/{METADATA_FILE}" in names
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    # run from the installed wheel only: the checkout is not on the path (cwd elsewhere, PYTHONPATH = site)
    env = {**os.environ, "PYTHONPATH": str(site), CHECKPOINT_ENV: ""}
    r = subprocess.run([sys.executable, "-m", "dfdetect", "predict", str(clips[0]), "--format", "json", *FAST],
                       cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    where = subprocess.run([sys.executable, "-c", "import dfdetect.default_model as d; print(d.default_checkpoint())"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).is_relative_to(site)  # the model came from the installed wheel's assets
    (row,) = json.loads(r.stdout)
    assert 0.0 <= row["fake_prob"] <= 1.0
