"""run_extraction: the manifest contract, resume, kills, shards and worker processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from _extractdata import canvas, synth_clip, write_frames
from dfdetect.errors import DfdetectError
from dfdetect.extraction import ExtractOptions, gather_inputs, merge_parts, run_extraction, shard_of
from dfdetect.manifest import MANIFEST_COLUMNS, read_manifest, resolve_faces_path

OPTS = ExtractOptions(frames=4, size=32)


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("videos")
    for i in range(4):
        synth_clip(root / f"clip{i}.mp4", seed=i, fake=bool(i % 2), n_frames=8, width=128, height=112)
    write_frames(root / "noface.mp4", [canvas(96, 96, seed=s) for s in range(3)])
    return root


def _stacks(data: Path) -> dict[str, np.ndarray]:
    return {p.stem: np.load(p) for p in sorted((data / "faces").glob("*.npy"))}


def test_manifest_contract(tmp_path, videos):
    summary = run_extraction(gather_inputs([videos], label="real"), tmp_path / "data", OPTS)
    assert (summary.ok, summary.no_face, summary.error, summary.skipped) == (4, 1, 0, 0)
    assert summary.frames == 4 * 4 + 3 and not summary.failed
    csv = tmp_path / "data" / "manifest.csv"
    df = read_manifest(csv)
    assert list(df.columns[: len(MANIFEST_COLUMNS)]) == MANIFEST_COLUMNS
    assert df["video_id"].is_unique and set(df["label"]) == {"0"}
    ok = df[df["status"] == "ok"]
    assert (ok["frames"].astype(int) == 4).all() and (ok["faces"].astype(int) == 4).all()
    assert (ok["error"] == "").all() and (ok["group"] == ok["video_id"]).all()
    assert set(df["size"]) == {"32"} and set(df["scale"]) == {"1.3"} and set(df["detector"]) == {"dlib"}
    for rel in ok["faces_file"]:
        assert not Path(rel).is_absolute()
        stack = np.load(resolve_faces_path(csv, rel), mmap_mode="r")
        assert stack.shape == (4, 32, 32, 3) and stack.dtype == np.uint8
    none = df[df["status"] == "no_face"].iloc[0]
    assert none["faces_file"] == "" and none["faces"] == "0" and none["frames"] == "3"
    assert not (tmp_path / "data" / "faces" / f"{none['video_id']}.npy").exists()
    sidecar = json.loads((tmp_path / "data" / ok["sidecar"].iloc[0]).read_text())
    assert len(sidecar["frames"]) == 4
    assert {"index", "box", "score", "source", "box_from", "crop"} <= set(sidecar["frames"][0])
    assert not list((tmp_path / "data" / "faces").glob(".*"))  # no temp files left


def test_rerun_skips_finished_retries_errors_and_adds_new(tmp_path, videos):
    data = tmp_path / "data"
    missing = tmp_path / "later.mp4"
    first = run_extraction(gather_inputs([videos, missing]), data, OPTS)
    assert first.error == 1 and first.failed
    stamps = {p.name: p.stat().st_mtime_ns for p in (data / "faces").glob("*.npy")}
    synth_clip(missing, seed=9, n_frames=6, width=128, height=112)
    second = run_extraction(gather_inputs([videos, missing]), data, OPTS)
    assert (second.skipped, second.ok, second.error) == (5, 1, 0)
    assert {p.name: p.stat().st_mtime_ns for p in (data / "faces").glob("*.npy") if p.name in stamps} == stamps
    assert len(read_manifest(data / "manifest.csv")) == 6


def test_half_written_stack_is_not_counted_as_finished(tmp_path, videos):
    data = tmp_path / "data"
    items = gather_inputs([videos])
    run_extraction(items, data, OPTS)
    victim = data / "faces" / "clip1.npy"
    good = np.load(victim)
    victim.write_bytes(victim.read_bytes()[:500])  # as if killed while writing in place
    (data / "faces" / ".clip2.npy.x1y2.tmp").write_bytes(b"partial")  # a killed atomic write
    again = run_extraction(items, data, OPTS)
    assert (again.ok, again.skipped) == (1, 4)
    assert np.array_equal(np.load(victim), good)


REPO = Path(__file__).resolve().parents[1]


def _extract_killed_at(spec: str, videos: Path, data: Path) -> None:
    """Run an extraction in a child that SIGKILLs itself halfway through the write `spec` picks
    (DFDETECT_TEST_KILL_AT_WRITE, see dfdetect/faults.py): a deterministic kill, no race."""
    script = (
        "from dfdetect.extraction import *;"
        f"run_extraction(gather_inputs([{str(videos)!r}]), {str(data)!r}, ExtractOptions(frames=4, size=32))"
    )
    env = dict(os.environ, DFDETECT_TEST_KILL_AT_WRITE=spec, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", script], env=env, stderr=subprocess.PIPE, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]


@pytest.fixture(scope="module")
def uninterrupted(videos, tmp_path_factory) -> dict[str, np.ndarray]:
    data = tmp_path_factory.mktemp("uninterrupted")
    run_extraction(gather_inputs([videos]), data, OPTS)
    return _stacks(data)


# clip0..clip3 and noface are extracted in this order; the writes are extract_config.json, then per
# video its stack (.npy) and sidecar (.json); noface has a sidecar only.
@pytest.mark.parametrize("spec, victim", [("*.npy:3", "clip2.npy"), ("*.json:3", "clip1.json")])
def test_killed_run_resumes_to_completion(tmp_path, videos, uninterrupted, spec, victim):
    from dfdetect.extraction.store import is_finished, stack_is_complete

    data = tmp_path / "data"
    _extract_killed_at(spec, videos, data)
    faces = data / "faces"
    assert not (faces / victim).exists()  # the write it died in never reached its final name
    (half,) = faces.glob(f".{victim}.*.tmp")
    assert half.stat().st_size > 0
    manifest = data / "manifest.csv"
    at_kill = read_manifest(manifest) if manifest.exists() else None
    # rows of videos the killed run had reserved but not finished are error rows ("did not finish")
    done = at_kill[at_kill["status"] == "ok"] if at_kill is not None else None
    finished = 0 if done is None else len(done)
    assert done is None or Path(victim).stem not in set(done["video_id"])
    if at_kill is not None:
        pending = at_kill[at_kill["status"] != "ok"]
        assert set(pending["status"]) <= {"error"} and all("did not finish" in e for e in pending["error"])
    if victim.endswith(".npy"):
        # half a stack is never a finished video, not even under its final name
        (faces / victim).write_bytes(half.read_bytes())
        assert not stack_is_complete(faces / victim)
        assert not is_finished({"status": "ok", "faces_file": f"faces/{victim}", "frames": "4"}, data)

    # videos whose stack and sidecar it wrote but whose row it never flushed are kept, not redone
    unrecorded = {p.stem for p in faces.glob("*.json")} - (set() if done is None else set(done["video_id"]))
    summary = run_extraction(gather_inputs([videos]), data, OPTS)
    assert summary.recovered == len(unrecorded) and summary.skipped == finished + len(unrecorded)
    assert summary.error == 0
    assert (summary.ok + summary.skipped, summary.no_face) == (4, 1)
    df = read_manifest(manifest)
    assert len(df) == 5 and sorted(df["status"]) == ["no_face", "ok", "ok", "ok", "ok"]
    got = _stacks(data)
    assert got.keys() == uninterrupted.keys() and all(np.array_equal(got[k], uninterrupted[k]) for k in got)


def test_shards_partition_the_run_and_merge(tmp_path, videos):
    items = gather_inputs([videos])
    full = run_extraction(items, tmp_path / "full", OPTS)
    ids = {it.video_id for it in items}
    parts = []
    for i in (1, 2, 3):
        s = run_extraction(items, tmp_path / f"s{i}", OPTS, shard=f"{i}/3")
        parts.append(set(read_manifest(s.manifest)["video_id"]))
        assert s.manifest.name == f"manifest.part-{i}-of-3.csv"
        assert parts[-1] == {v for v in ids if shard_of(v, 3) == i}
    assert set().union(*parts) == ids and sum(map(len, parts)) == len(ids)

    shared = tmp_path / "shared"
    results = [run_extraction(items, shared, OPTS, shard=(i, 3)) for i in (1, 2, 3)]
    assert [r.merged for r in results] == [False, False, True]
    assert not list(shared.glob("manifest.part-*"))
    merged = read_manifest(shared / "manifest.csv")
    assert set(merged["video_id"]) == ids
    assert {k: v.tobytes() for k, v in _stacks(shared).items()} == {k: v.tobytes() for k, v in _stacks(full.manifest.parent).items()}


def test_merge_by_hand(tmp_path, videos):
    items = gather_inputs([videos])
    data = tmp_path / "data"
    mine = sum(shard_of(it.video_id, 3) == 1 for it in items)
    assert 0 < mine < len(items)
    run_extraction(items, data, OPTS, shard=(1, 3))
    assert not (data / "manifest.csv").exists()  # the other shards have not run
    path, n = merge_parts(data)
    assert n == len(read_manifest(path)) == mine
    assert not list(data.glob("manifest.part-*"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DfdetectError, match="no manifest.csv"):
        merge_parts(tmp_path / "empty")


def test_workers_give_the_same_stacks_as_one_process(tmp_path, videos):
    items = gather_inputs([videos])
    one = run_extraction(items, tmp_path / "one", OPTS, workers=1)
    two = run_extraction(items, tmp_path / "two", OPTS, workers=2)
    assert (two.ok, two.no_face, two.error) == (one.ok, one.no_face, one.error) == (4, 1, 0)
    a, b = _stacks(tmp_path / "one"), _stacks(tmp_path / "two")
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_data_folder_refuses_mixed_settings(tmp_path, videos):
    items = gather_inputs([videos / "clip0.mp4"])
    run_extraction(items, tmp_path / "data", OPTS)
    with pytest.raises(DfdetectError, match="--size 32"):
        run_extraction(items, tmp_path / "data", ExtractOptions(frames=4, size=64))


def test_bad_shard_spec_is_a_usage_error(tmp_path, videos):
    from dfdetect.errors import UsageError

    for spec in ("0/2", "3/2", "a/b", "2"):
        with pytest.raises(UsageError, match=rf"--shard (must look like i/n \(e\.g\. 1/4\)( or auto)?, not '{spec}'|{spec}: shards are numbered 1\.\.n)"):
            run_extraction(gather_inputs([videos / "clip0.mp4"]), tmp_path / "d", OPTS, shard=spec)


def test_stack_files_are_readable_by_others(tmp_path, videos):
    run_extraction(gather_inputs([videos / "clip0.mp4"]), tmp_path / "data", OPTS)
    mode = (tmp_path / "data" / "faces" / "clip0.npy").stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask
