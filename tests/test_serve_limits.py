"""The per-video time limit (504, the worker replaced, the server up), a model that cannot load,
and an ensemble (scores as the CLI's; Grad-CAM refused with 400, as `predict --explain` refuses it)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from _servedata import Server, httpx, tiny_serve_checkpoint

pytestmark = pytest.mark.slow


def worker_pids(server: Server) -> set[int]:
    """The scoring processes (multiprocessing's spawn_main), not its resource tracker."""
    children: set[int] = set()
    for task in Path(f"/proc/{server.proc.pid}/task").iterdir():
        children |= {int(c) for c in (task / "children").read_text().split()}
    return {pid for pid in children if b"spawn_main" in _cmdline(pid)}


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def test_time_limit_gives_504_and_a_fresh_worker(tmp_path: Path) -> None:
    from dfdetect.synth import make_clip

    clip = make_clip(tmp_path / "clip.mp4", fake=True, seed=1, width=128, height=128, n_frames=6)
    server = Server(["-c", str(tiny_serve_checkpoint(tmp_path / "tiny.ckpt")), "--time-limit", "0.001"], tmp_path / "tmp")
    try:
        before = worker_pids(server)
        assert len(before) == 1
        r = httpx.post(server.url + "/v1/predict", files={"file": ("c.mp4", clip.read_bytes())}, timeout=120)
        assert r.status_code == 504, r.text
        assert "limit" in r.json()["error"] and r.json()["fix"]
        assert server.alive() and list(server.upload_folder().iterdir()) == []
        deadline = time.monotonic() + 30
        while worker_pids(server) in (before, set()) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert worker_pids(server) and not worker_pids(server) & before  # the stuck worker was replaced
    finally:
        assert server.stop() == 0, server.output()


def test_a_checkpoint_that_cannot_load_stops_before_listening(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"this is not a checkpoint")
    # 0.0.0.0 only to see the warning: the model fails first, so nothing ever listens.
    r = subprocess.run([sys.executable, "-m", "dfdetect", "serve", "-c", str(bad), "--host", "0.0.0.0", "--port", "1",
                        "--device", "cpu"], capture_output=True, text=True, timeout=240,
                       env={**os.environ, "TMPDIR": str(tmp_path), "COLUMNS": "250"})
    assert r.returncode == 1, r.stderr
    assert "without --token-file" in r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "bad.ckpt" in errors[0] and "Traceback" not in r.stderr
    assert not list(tmp_path.glob("dfdetect-serve-*"))  # the upload folder is removed


def test_an_ensemble_scores_as_the_cli_and_refuses_explain(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from dfdetect.cli import app
    from dfdetect.synth import make_clip

    clip = make_clip(tmp_path / "clip.mp4", fake=False, seed=2, width=128, height=128, n_frames=6)
    a, b = tiny_serve_checkpoint(tmp_path / "a.ckpt"), tiny_serve_checkpoint(tmp_path / "b.ckpt", seed=1)
    r = CliRunner().invoke(app, ["predict", str(clip), "-c", str(a), "-c", str(b), "--format", "json", "--device", "cpu"],
                           env={"DFDETECT_CHECKPOINT": ""})
    assert r.exit_code == 0, r.output
    expected = json.loads(r.stdout)[0]
    server = Server(["-c", str(a), "-c", str(b)], tmp_path / "tmp")
    try:
        got = httpx.post(server.url + "/v1/predict", files={"file": ("c.mp4", clip.read_bytes())}, timeout=120).json()
        assert got["fake_prob"] == expected["fake_prob"] and got["verdict"] == expected["verdict"]
        assert " + " in httpx.get(server.url + "/v1/model").json()["checkpoint"]
        refused = httpx.post(server.url + "/v1/predict", params={"explain": 1},
                             files={"file": ("c.mp4", clip.read_bytes())}, timeout=120)
        assert refused.status_code == 400 and "one model" in refused.json()["error"], refused.text
        assert server.alive() and list(server.upload_folder().iterdir()) == []
    finally:
        assert server.stop() == 0
