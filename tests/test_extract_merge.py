"""Merging shard parts: which row wins when parts disagree, and two shards merging at once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dfdetect.errors import DfdetectError
from dfdetect.extraction import merge_parts
from dfdetect.extraction.store import manifest_lock, part_name, write_rows
from dfdetect.manifest import read_manifest

REPO = Path(__file__).resolve().parents[1]


def _row(video_id: str, status: str, note: str = "") -> dict[str, str]:
    ok = status == "ok"
    return {"video_id": video_id, "path": f"videos/{video_id}.mp4", "label": "0", "group": video_id,
            "method": "real", "dataset": "d", "split": "", "frames": "4" if status != "error" else "0",
            "faces": "4" if ok else "0", "faces_file": f"faces/{video_id}.npy" if ok else "",
            "status": status, "error": note if status == "error" else ""}


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    write_rows(path, {r["video_id"]: r for r in rows})


def test_a_finished_row_beats_an_error_whatever_the_order(tmp_path: Path) -> None:
    _write(tmp_path / "manifest.csv", [_row("kept", "ok"), _row("retried", "error", "old failure")])
    _write(tmp_path / part_name(1, 2), [
        _row("kept", "error", "later failure"),    # an error never replaces a finished row
        _row("ok_then_error", "ok"),
        _row("error_then_ok", "error", "first try"),
        _row("noface_then_error", "no_face"),
        _row("retried", "ok"),                     # a part's finished row replaces an old error
    ])
    _write(tmp_path / part_name(2, 2), [
        _row("ok_then_error", "error", "second try"),
        _row("error_then_ok", "ok"),
        _row("noface_then_error", "error", "second try"),
        _row("both_errors", "error", "newer"),
    ])
    path, n = merge_parts(tmp_path)
    got = read_manifest(path).set_index("video_id")["status"].to_dict()
    assert n == 6 and got == {"kept": "ok", "retried": "ok", "ok_then_error": "ok", "error_then_ok": "ok",
                              "noface_then_error": "no_face", "both_errors": "error"}
    assert not list(tmp_path.glob("manifest.part-*"))


def test_merge_waits_for_the_lock(tmp_path: Path, monkeypatch) -> None:
    from functools import partial

    from dfdetect.extraction import store

    _write(tmp_path / part_name(1, 1), [_row("v", "ok")])
    with manifest_lock(tmp_path):
        # another merge in progress: this one must not touch the parts (0.3 s instead of 600 s to give up)
        monkeypatch.setattr(store, "manifest_lock", partial(manifest_lock, timeout=0.3))
        with pytest.raises(DfdetectError, match=r"\.manifest\.lock: another dfdetect process has held the manifest lock"):
            merge_parts(tmp_path)
        assert (tmp_path / part_name(1, 1)).exists() and not (tmp_path / "manifest.csv").exists()
    monkeypatch.undo()
    assert merge_parts(tmp_path)[1] == 1


def test_two_shards_merging_at_the_same_moment_lose_no_row(tmp_path: Path) -> None:
    """Three processes call merge_parts at once (as the last two shards do when they finish
    together). The test holds the lock until all are ready, so they contend for it; without the
    lock one could write a manifest from parts the other had already folded in and deleted."""
    ids = [f"v{i:03d}" for i in range(400)]
    for k in (1, 2):
        _write(tmp_path / part_name(k, 2), [_row(v, "ok") for v in ids[k - 1::2]])
    script = (
        "import sys, pandas; from dfdetect.extraction import merge_parts\n"
        "print('ready', flush=True); sys.stdin.readline()\n"
        f"merge_parts({str(tmp_path)!r})\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with manifest_lock(tmp_path):
        procs = [subprocess.Popen([sys.executable, "-c", script], env=env, text=True, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)]
        for p in procs:
            assert p.stdout.readline().strip() == "ready", p.stderr.read()
        for p in procs:  # release them at once; they reach the lock while the test still holds it
            p.stdin.write("go\n")
            p.stdin.flush()
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    merged = read_manifest(tmp_path / "manifest.csv")
    assert sorted(merged["video_id"]) == ids
    assert not list(tmp_path.glob("manifest.part-*"))
