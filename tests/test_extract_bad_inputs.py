"""`dfdetect extract` on bad and awkward inputs: every one gets a row, the batch goes on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import wide_runner
from _extractdata import face_frame, synth_clip, truncated_copy, write_frames
from dfdetect.cli import app
from dfdetect.extraction import ExtractOptions, extract_faces
from dfdetect.manifest import read_manifest
from dfdetect.video_io import VideoInfo, iter_sampled_frames, probe, sample_indices

runner = wide_runner()


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("zoo")
    good = synth_clip(root / "good.mp4", n_frames=6, width=128, height=112)
    (root / "zero.mp4").write_bytes(b"")
    truncated_copy(good, root / "truncated.mp4", 0.6)
    (root / "notes.mp4").write_text("this is not a video\n")
    (root / "noise.avi").write_bytes(np.random.default_rng(0).integers(0, 255, 5000, dtype=np.uint8).tobytes())
    write_frames(root / "one frame.mp4", [face_frame(160, 120, 80, 30, 10)[0]])
    synth_clip(root / "portrait.mp4", n_frames=4, width=112, height=200, seed=3)
    write_frames(root / "uhd_4k.mp4", [face_frame(3840, 2160, 900, 1400, 500)[0]] * 2)
    for name in ("a..b.mp4", "vidéo 日本 x.mp4", "..hidden-ish.mp4"):
        synth_clip(root / "names" / name, n_frames=4, width=112, height=112, seed=5)
    return root


def test_every_bad_input_is_one_error_row_and_the_rest_succeed(tmp_path, zoo):
    data = tmp_path / "data"
    # A dot-file is skipped when a folder is searched (macOS '._x.mp4' junk), so pass it by name.
    result = runner.invoke(app, ["extract", str(zoo), str(tmp_path / "missing.mp4"),
                                 str(zoo / "names" / "..hidden-ish.mp4"), "--out", str(data),
                                 "--frames", "4", "--size", "32"])
    assert result.exit_code == 1, result.output
    df = read_manifest(data / "manifest.csv").set_index("path")
    status = {Path(p).name: s for p, s in df["status"].items()}
    errors = {Path(p).name: e for p, e in df["error"].items()}
    for bad in ("missing.mp4", "zero.mp4", "truncated.mp4", "notes.mp4", "noise.avi"):
        assert status[bad] == "error" and errors[bad] and "\n" not in errors[bad], bad
    assert "no such file" in errors["missing.mp4"] and "0 bytes" in errors["zero.mp4"]
    for fine in ("good.mp4", "one frame.mp4", "portrait.mp4", "uhd_4k.mp4", "a..b.mp4", "vidéo 日本 x.mp4",
                 "..hidden-ish.mp4"):
        assert status[fine] == "ok" and errors[fine] == "", (fine, errors[fine])
    assert df.loc[str(zoo / "one frame.mp4"), "frames"] == "1"
    for vid in df["video_id"]:
        assert vid.isascii() and "/" not in vid and ".." not in vid and not vid.startswith(".")
        assert (data / "faces" / f"{vid}.npy").exists() == (df.set_index("video_id").loc[vid, "status"] == "ok")
    assert "notes" in result.output  # errors are listed on stderr


def test_all_good_inputs_exit_zero_and_print_a_summary(tmp_path, zoo):
    result = runner.invoke(app, ["extract", str(zoo / "good.mp4"), "--out", str(tmp_path / "d"), "--frames", "2",
                                 "--size", "32", "--label", "fake"])
    assert result.exit_code == 0, result.output
    assert "no_face" in result.output and "frames/s" in result.output
    assert read_manifest(tmp_path / "d" / "manifest.csv")["label"].tolist() == ["1"]


@pytest.mark.parametrize("args, message", [
    (["--frames", "zero"], "--frames"),
    (["--label", "maybe"], "--label"),
    (["--shard", "5/2"], "--shard"),
    (["--detector", "dlb"], "did you mean 'dlib'"),
    (["--scale", "0.5"], "--scale"),
    (["--detector-model", "x.dat"], "takes no --detector-model"),
    (["--detector-model", "x.dat", "--workers", "2"], "takes no --detector-model"),
])
def test_bad_flags_are_usage_errors(tmp_path, zoo, args, message):
    result = runner.invoke(app, ["extract", str(zoo / "good.mp4"), "--out", str(tmp_path / "d"), *args])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_missing_out_and_nothing_to_do_are_usage_errors(tmp_path, zoo):
    assert runner.invoke(app, ["extract", str(zoo / "good.mp4")]).exit_code == 2
    assert runner.invoke(app, ["extract", "--out", str(tmp_path)]).exit_code == 2


def test_merge_flag(tmp_path, zoo):
    data = tmp_path / "d"
    runner.invoke(app, ["extract", str(zoo / "good.mp4"), "--out", str(data), "--frames", "2", "--size", "32",
                        "--shard", "1/1"])
    assert (data / "manifest.csv").exists()  # one shard of one: merged at once
    result = runner.invoke(app, ["extract", "--merge", str(data)])
    assert result.exit_code == 0 and "merged" in result.output


def test_extract_with_dlib_never_imports_torch(tmp_path, zoo):
    code = (
        "import sys\nfrom dfdetect.cli import app\n"
        "try:\n app(['extract', sys.argv[1], '--out', sys.argv[2], '--frames', '2', '--size', '32'])\n"
        "except SystemExit:\n pass\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(zoo / "good.mp4"), str(tmp_path / "d")],
                         capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "NO-TORCH", out.stderr


def test_sampling_survives_an_over_reported_frame_count(zoo):
    info = probe(zoo / "good.mp4")
    assert (info.frame_count, info.width, info.height) == (6, 128, 112)
    lying = VideoInfo(info.path, frame_count=60, fps=info.fps, width=info.width, height=info.height)
    got = [i for i, _ in iter_sampled_frames(lying, 4)]
    # the pass over the claimed 60 frames only reaches index 0; the rest is resampled over the real 6
    assert got[0] == 0 and got[-1] == 5 and len(got) >= 3 and got == sorted(set(got))


def test_sample_indices():
    assert sample_indices(300, 32)[:3] == [0, 10, 19] and sample_indices(300, 32)[-1] == 299
    assert len(sample_indices(300, 32)) == 32
    assert sample_indices(5, 32) == [0, 1, 2, 3, 4] and sample_indices(5, None) == [0, 1, 2, 3, 4]
    assert sample_indices(0, 8) == [] and sample_indices(9, 1) == [4]


def test_frames_all_takes_every_frame(zoo):
    result = extract_faces(zoo / "good.mp4", ExtractOptions(frames=None, size=32))
    assert [f.index for f in result.frames] == list(range(6)) and result.faces.shape[0] == 6
