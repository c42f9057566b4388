"""`extract` killed with SIGKILL: its workers die with it, and the next run keeps the stacks they
finished even when the manifest never recorded them. Real dlib and OpenCV on small synthetic clips."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from _extractdata import synth_clip
from dfdetect.extraction import ExtractOptions, gather_inputs, run_extraction
from dfdetect.extraction.batch import UNFINISHED
from dfdetect.manifest import read_manifest, write_csv_atomic

OPTS = ExtractOptions(frames=3, size=32)
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("kill") / "videos"
    for i in range(3):
        synth_clip(root / f"clip{i}.mp4", seed=i, fake=bool(i % 2), n_frames=6, width=128, height=112)
    return root


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns


def test_stacks_a_killed_run_finished_but_never_recorded_are_kept(tmp_path, videos):
    data = tmp_path / "data"
    run_extraction(gather_inputs([videos], label="real"), data, OPTS)
    before = read_manifest(data / "manifest.csv").set_index("video_id")
    stamps = {vid: _stamp(data / "faces" / f"{vid}.npy") for vid in before.index}
    # what SIGKILL leaves: clip0 still carries its reservation row, clip1 and clip2 have no row at all
    killed = before.loc[["clip0"]].reset_index()
    killed.loc[0, ["status", "error", "faces_file", "frames", "faces"]] = ["error", UNFINISHED, "", "", ""]
    write_csv_atomic(killed, data / "manifest.csv")

    again = run_extraction(gather_inputs([videos], label="real"), data, OPTS)
    assert (again.skipped, again.recovered, again.ok, again.error) == (3, 3, 0, 0)
    assert {vid: _stamp(data / "faces" / f"{vid}.npy") for vid in before.index} == stamps  # not redone
    after = read_manifest(data / "manifest.csv").set_index("video_id")
    pd.testing.assert_frame_equal(after.sort_index(), before.sort_index())  # the very rows a finished run writes


def test_a_stack_newer_than_its_sidecar_or_a_recorded_error_is_redone(tmp_path, videos):
    data = tmp_path / "data"
    run_extraction(gather_inputs([videos], label="real"), data, OPTS)
    rows = read_manifest(data / "manifest.csv")
    stack = data / "faces" / "clip1.npy"
    os.utime(stack, ns=(time.time_ns(), (data / "faces" / "clip1.json").stat().st_mtime_ns + 10**9))
    rows.loc[rows["video_id"] == "clip2", ["status", "error"]] = ["error", "OSError: the disk went away"]
    write_csv_atomic(rows[rows["video_id"] != "clip1"], data / "manifest.csv")
    again = run_extraction(gather_inputs([videos], label="real"), data, OPTS)
    assert (again.skipped, again.recovered, again.ok) == (1, 0, 2)


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_kill_9_of_extract_takes_its_workers_with_it_and_the_rerun_keeps_their_stacks(tmp_path, videos):
    many = tmp_path / "many"
    many.mkdir()
    for k in range(16):  # enough work that the kill lands mid-run
        shutil.copyfile(videos / f"clip{k % 3}.mp4", many / f"v{k:02d}.mp4")
    data = tmp_path / "data"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "dfdetect", "--quiet", "extract", str(many), "--label", "real",
                             "--out", str(data), "--frames", "8", "--size", "64", "--workers", "2"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            workers |= _children(proc.pid)
            if len(workers) >= 2 and any(p.with_suffix(".json").is_file() for p in (data / "faces").glob("*.npy")):
                break
            time.sleep(0.02)
        if proc.poll() is not None:
            pytest.skip("extract finished before it could be killed (a very fast machine)")
        assert len(workers) >= 2
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 30  # a bound on the wait, not a speed claim: the watchdog polls every second
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(w) for w in workers), "workers outlived the killed extract"
    finally:
        if proc.poll() is None:
            proc.kill()
        for w in workers:  # a failing run must not leave its orphans behind
            if _alive(w):
                os.kill(w, signal.SIGKILL)
    # a video is finished once its sidecar is written (after its stack); a kill between the two leaves
    # a stack nothing vouches for, which the rerun rightly redoes
    finished = {p.stem: _stamp(p) for p in (data / "faces").glob("*.npy") if p.with_suffix(".json").is_file()}
    assert finished
    again = run_extraction(gather_inputs([many], label="real"), data, ExtractOptions(frames=8, size=64))
    assert again.error == 0 and again.skipped >= len(finished)
    df = read_manifest(data / "manifest.csv")
    assert len(df) == 16 and set(df["status"]) == {"ok"}
    assert {vid: _stamp(data / "faces" / f"{vid}.npy") for vid in finished} == finished  # kept, not redone
