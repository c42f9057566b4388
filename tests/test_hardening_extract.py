"""Issue 12 A: extract never loses or mixes up data (ids, concurrent runs, duplicates, labels,
empty inputs, file modes, short containers). Real dlib and OpenCV on small synthetic clips."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _extractdata import synth_clip
from _splitdata import plain_rows, write_manifest
from _splitdata import row as split_row
from dfdetect.errors import DfdetectError
from dfdetect.extraction import ExtractOptions, extract_faces, gather_inputs, run_extraction
from dfdetect.extraction.batch import UNFINISHED
from dfdetect.manifest import read_manifest, write_csv_atomic
from dfdetect.splitting import make_splits

OPTS = ExtractOptions(frames=3, size=32)
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    """Two different clips with one file name, clip0.mp4, in real/ and fake/, plus a few more."""
    root = tmp_path_factory.mktemp("hardening")
    out = {}
    for name, seed, fake in (("real/clip0", 0, False), ("fake/clip0", 1, True), ("real/clip1", 2, False),
                             ("fake/clip1", 3, True)):
        out[name] = synth_clip(root / f"{name}.mp4", seed=seed, fake=fake, n_frames=6, width=128, height=112)
    return out


def _text(capsys) -> str:
    return " ".join(capsys.readouterr().err.split())  # rich wraps long lines


def test_same_file_names_from_two_folders_keep_two_rows_and_two_stacks(tmp_path, clips):
    videos = clips["real/clip0"].parents[1]
    data = tmp_path / "data"
    run_extraction(gather_inputs([videos / "real"], label="real"), data, OPTS)
    second = run_extraction(gather_inputs([videos / "fake"], label="fake"), data, OPTS)
    assert (second.ok, second.skipped) == (2, 0)
    df = read_manifest(data / "manifest.csv").set_index("path")
    assert len(df) == 4 and df.index.is_unique and df["video_id"].is_unique
    real, fake = df.loc[str(clips["real/clip0"])], df.loc[str(clips["fake/clip0"])]
    assert (real["label"], fake["label"]) == ("0", "1")
    assert real["video_id"] == "clip0" and fake["video_id"].startswith("clip0-")
    stacks = {vid: np.load(data / "faces" / f"{vid}.npy") for vid in df["video_id"]}
    assert not np.array_equal(stacks[real["video_id"]], stacks[fake["video_id"]])
    # Re-runs, and a run over the parent folder, recognise every file as finished.
    again = run_extraction(gather_inputs([videos / "fake"], label="fake"), data, OPTS)
    assert (again.skipped, again.ok) == (2, 0)
    parent = run_extraction(gather_inputs([videos]), data, OPTS)
    assert (parent.skipped, parent.ok) == (4, 0)
    assert len(read_manifest(data / "manifest.csv")) == 4


def test_two_extract_processes_into_one_data_folder_keep_every_row(tmp_path, clips):
    a, b = tmp_path / "a", tmp_path / "b"
    for folder, names in ((a, ("real/clip0", "real/clip1")), (b, ("fake/clip0", "fake/clip1"))):
        for k in range(3):  # 6 videos each, with the same names on both sides
            for name in names:
                folder.mkdir(exist_ok=True)
                shutil.copyfile(clips[name], folder / f"{Path(name).name}_{k}.mp4")
    data = tmp_path / "data"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "dfdetect", "--quiet", "extract", "--frames", "3", "--size", "32", "--out", str(data)]
    procs = [subprocess.Popen([*cmd, str(folder), "--label", label], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for folder, label in ((a, "real"), (b, "fake"))]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    df = read_manifest(data / "manifest.csv")
    assert len(df) == 12 and df["video_id"].is_unique and df["path"].is_unique
    assert set(df["status"]) == {"ok"} and UNFINISHED not in set(df["error"])
    assert sorted(df["label"].value_counts().tolist()) == [6, 6]
    stacks = {p.stem for p in (data / "faces").glob("*.npy")}
    assert stacks == set(df["video_id"])


def test_an_interrupted_run_gives_back_its_reservations(tmp_path, clips, monkeypatch):
    from dfdetect.extraction import batch

    calls = []

    def interrupted(item, out_dir, options, detector=None):
        if calls:
            raise KeyboardInterrupt
        calls.append(item.video_id)
        return real_process(item, out_dir, options, detector)

    real_process = batch.process_video
    monkeypatch.setattr(batch, "process_video", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_extraction(gather_inputs([clips["real/clip0"].parent], label="real"), tmp_path / "data", OPTS)
    df = read_manifest(tmp_path / "data" / "manifest.csv")
    assert df["video_id"].tolist() == calls and set(df["status"]) == {"ok"}


def test_a_csv_listing_a_video_twice_extracts_it_once(tmp_path, clips, capsys):
    csv = tmp_path / "list.csv"
    pd.DataFrame({"path": [clips["real/clip0"], clips["fake/clip0"], clips["real/clip0"]],
                  "label": ["real", "fake", "real"]}).to_csv(csv, index=False)
    items = gather_inputs([csv])
    assert [it.path for it in items] == [clips["real/clip0"], clips["fake/clip0"]]
    assert "list.csv:4 (same as" in _text(capsys)
    # a folder and a CSV naming the same file with the same label: one input
    assert len(gather_inputs([clips["real/clip0"].parent], csvs=[csv], label="real")) == 3


def test_a_path_with_two_labels_is_an_error_naming_both_lines(tmp_path, clips):
    csv = tmp_path / "list.csv"
    pd.DataFrame({"path": [clips["real/clip0"], clips["real/clip1"], clips["real/clip0"]],
                  "label": ["real", "real", "fake"]}).to_csv(csv, index=False)
    with pytest.raises(DfdetectError, match=r"listed as real \(.*list.csv:2\) and as fake \(.*list.csv:4\)"):
        gather_inputs([csv])


def test_split_refuses_two_rows_made_from_one_source_file(tmp_path):
    rows = [split_row(f"r{i}", 0, f"r{i}") for i in range(6)] + [split_row(f"f{i}", 1, f"f{i}") for i in range(6)]
    rows[1]["path"] = rows[0]["path"]  # r0 and r1 were both extracted from videos/r0.mp4
    manifest = write_manifest(tmp_path / "data", rows)
    with pytest.raises(DfdetectError, match=r"videos/r0.mp4 is the source of 2 rows \(video_id r0, r1\)"):
        make_splits([manifest], tmp_path / "splits", test_ratios=[])


def test_csv_labels_are_required_and_checked_per_line(tmp_path, clips, capsys):
    no_column = tmp_path / "nolabel.csv"
    pd.DataFrame({"path": [clips["real/clip0"]]}).to_csv(no_column, index=False)
    with pytest.raises(DfdetectError, match="nolabel.csv: no 'label' column"):
        gather_inputs([no_column])
    assert [it.label for it in gather_inputs([no_column], label="real")] == [0]  # --label labels them all

    empty = tmp_path / "empty.csv"
    pd.DataFrame({"path": [clips["real/clip0"], clips["real/clip1"]], "label": ["real", ""]}).to_csv(empty, index=False)
    with pytest.raises(DfdetectError, match=r"empty.csv:3: empty label"):
        gather_inputs([empty])
    with pytest.raises(DfdetectError, match=r"empty.csv:3: empty label"):
        gather_inputs([empty], label="fake")

    unknown = tmp_path / "unknown.csv"
    pd.DataFrame({"path": [clips["real/clip0"]], "label": ["unknown"]}).to_csv(unknown, index=False)
    capsys.readouterr()
    assert [it.label for it in gather_inputs([unknown], label="fake")] == [None]
    assert "--label fake is not used for" in _text(capsys)


def test_a_new_label_on_a_finished_video_relabels_its_row_and_keeps_the_stack(tmp_path, clips, capsys):
    data = tmp_path / "data"
    run_extraction(gather_inputs([clips["real/clip0"]], label="real"), data, OPTS)
    stack = data / "faces" / "clip0.npy"
    before = stack.stat().st_mtime_ns
    capsys.readouterr()
    summary = run_extraction(gather_inputs([clips["real/clip0"]], label="fake"), data, OPTS)
    assert summary.skipped == 1 and summary.ok == 0
    assert read_manifest(data / "manifest.csv")["label"].tolist() == ["1"]
    assert stack.stat().st_mtime_ns == before
    assert "was extracted as real, now given as fake; relabelled" in _text(capsys)


def test_no_videos_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no videos here")
    with pytest.raises(DfdetectError, match="no videos found"):
        gather_inputs([tmp_path / "empty"])
    header = tmp_path / "header.csv"
    header.write_text("path,label\n")
    with pytest.raises(DfdetectError, match="no videos found"):
        gather_inputs([header])
    with pytest.raises(DfdetectError, match="no videos to extract"):
        run_extraction([], tmp_path / "data", OPTS)


def test_cli_no_videos_exits_1_without_writing_a_manifest(tmp_path):
    (tmp_path / "empty").mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-m", "dfdetect", "extract", str(tmp_path / "empty"), "--out",
                        str(tmp_path / "data")], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and "no videos found" in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "data" / "manifest.csv").exists()


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    yield 0o640
    os.umask(old)


def test_every_output_file_respects_the_umask(tmp_path, clips, umask_027):
    import torch

    from dfdetect.checkpoint import save_checkpoint

    data = tmp_path / "data"
    run_extraction(gather_inputs([clips["real/clip0"]], label="real"), data, OPTS)
    write_csv_atomic(read_manifest(data / "manifest.csv"), data / "copy.csv")
    manifest = write_manifest(tmp_path / "sdata", plain_rows(6, 6))
    make_splits([manifest], tmp_path / "splits", test_size=0.25, val_size=0.25, test_ratios=["1:1"])
    save_checkpoint(tmp_path / "run" / "best.ckpt", torch.nn.Linear(2, 1), {"model": "x"})
    write_csv_atomic(pd.DataFrame({"epoch": [1]}), tmp_path / "run" / "metrics.csv")
    outputs = [data / "manifest.csv", data / "copy.csv", data / "faces" / "clip0.npy",
               data / "faces" / "clip0.json", data / "extract_config.json", tmp_path / "splits" / "splits.json",
               tmp_path / "run" / "best.ckpt", tmp_path / "run" / "metrics.csv",
               *sorted((tmp_path / "splits").glob("*.csv"))]
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in outputs}
    assert set(modes.values()) == {oct(umask_027)}, modes


def test_a_one_frame_video_is_a_valid_input(tmp_path):
    clip = synth_clip(tmp_path / "one.mp4", n_frames=1, width=128, height=112)
    result = extract_faces(clip, ExtractOptions(frames=8, size=32))
    assert result.status == "ok" and result.faces.shape == (1, 32, 32, 3) and result.note == ""


def _truncated_avi(tmp_path: Path, n_frames: int = 20, keep: float = 0.5) -> Path:
    """An MJPG AVI cut short: its header still says n_frames, fewer decode."""
    import cv2

    src = synth_clip(tmp_path / "src.mp4", n_frames=n_frames, width=128, height=112)
    cap = cv2.VideoCapture(str(src))
    writer = cv2.VideoWriter(str(tmp_path / "full.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 25, (128, 112))
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        writer.write(frame)
    writer.release()
    cap.release()
    data = (tmp_path / "full.avi").read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[: int(len(data) * keep)])
    return tmp_path / "cut.avi"


def test_a_container_that_over_reports_is_resampled_within_its_decodable_frames(tmp_path):
    from dfdetect.video_io import count_frames, probe, sample_indices

    clip = _truncated_avi(tmp_path)
    reported, decodable = probe(clip).frame_count, count_frames(clip)
    if not decodable < reported:
        pytest.skip("this OpenCV build does not report the AVI header's frame count")
    data = tmp_path / "data"
    summary = run_extraction(gather_inputs([clip], label="real"), data, ExtractOptions(frames=8, size=32))
    assert summary.ok == 1 and summary.notes and f"only {decodable} decode" in summary.notes[0][1]
    row = read_manifest(data / "manifest.csv").iloc[0]
    assert row["frames"] == "8" and row["source_frames"] == str(decodable) and "sampled within" in row["note"]
    sidecar = pd.read_json(data / row["sidecar"], typ="series")
    assert sidecar["decoded_frames"] == decodable and sidecar["frame_count"] == reported
    assert [f["index"] for f in sidecar["frames"]] == sample_indices(decodable, 8)


_WRITER = """
import sys
from pathlib import Path
from dfdetect.extraction.store import update_rows
data, name = Path(sys.argv[1]), sys.argv[2]
for i in range(40):
    vid = f"{name}{i:02d}"
    update_rows(data / "manifest.csv", data, {vid: {"video_id": vid, "path": vid + ".mp4", "status": "ok"}})
"""


def test_manifest_updates_from_two_processes_merge_under_the_lock(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), name], env=env,
                              stderr=subprocess.PIPE, text=True) for name in ("a", "b")]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    ids = read_manifest(tmp_path / "manifest.csv", required=["video_id"])["video_id"].tolist()
    assert sorted(ids) == sorted(f"{n}{i:02d}" for n in "ab" for i in range(40))


def test_a_damaged_manifest_is_never_overwritten(tmp_path, clips):
    data = tmp_path / "data"
    data.mkdir()
    (data / "manifest.csv").write_text("this is not,a manifest\n1,2\n")
    with pytest.raises(DfdetectError, match="not a readable manifest"):
        run_extraction(gather_inputs([clips["real/clip0"]], label="real"), data, OPTS)
    assert (data / "manifest.csv").read_text() == "this is not,a manifest\n1,2\n"
