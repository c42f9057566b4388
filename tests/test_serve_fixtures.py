"""The warm server scores the real fixture clips exactly as `dfdetect predict --format json` does.

Both use the bundled default model; the CLI runs as its own process, the server is a real
uvicorn on a loopback port. Skipped when ../shared/fixtures/videos is absent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from _servedata import Server, httpx
from conftest import FIXTURE_VIDEOS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clips() -> list:
    if not FIXTURE_VIDEOS.is_dir():
        pytest.skip(f"{FIXTURE_VIDEOS} not available")
    found = sorted(FIXTURE_VIDEOS.glob("*/*.mp4"), key=lambda p: p.stat().st_size)
    if not found:
        pytest.skip(f"no clips in {FIXTURE_VIDEOS}")
    return found[:4]  # the four smallest (real and fake, both answered in a few seconds each)


@pytest.fixture(scope="module")
def server(clips: list, tmp_path_factory: pytest.TempPathFactory):
    srv = Server([], tmp_path_factory.mktemp("serve-fixtures"))
    yield srv
    srv.stop()


def test_fixture_clips_score_as_the_cli(clips: list, server: Server) -> None:
    cli = subprocess.run([sys.executable, "-m", "dfdetect", "predict", *map(str, clips), "--format", "json",
                          "--device", "cpu"], capture_output=True, text=True, timeout=600,
                         env={**os.environ, "DFDETECT_CHECKPOINT": ""})
    assert cli.returncode in (0, 1), cli.stderr  # 1: some clip without a face, still reported
    expected = {row["path"]: row for row in json.loads(cli.stdout)}
    assert len(expected) == len(clips)
    verdicts = set()
    for clip in clips:
        r = httpx.post(server.url + "/v1/predict", files={"file": (clip.name, clip.read_bytes(), "video/mp4")}, timeout=300)
        row = expected[str(clip)]
        assert r.status_code == (200 if row["status"] in ("ok", "no_face") else 422), r.text
        got = r.json()
        for key in ("fake_prob", "verdict", "frames", "faces", "status", "error", "threshold"):
            if key in row:
                assert got[key] == row[key], (clip.name, key, got[key], row[key])
        assert got["path"] == clip.name
        if row["fake_prob"] is not None:
            assert len(got["timeline"]) == row["faces"] or len(got["timeline"]) == row["frames"]
            verdicts.add(got["verdict"])
    assert verdicts  # at least one clip was scored
    assert list(server.upload_folder().iterdir()) == []
