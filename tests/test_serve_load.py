"""A bounded load test on loopback: 50 concurrent requests, valid and invalid mixed, twice.

Every valid one is answered with the CLI's score (after waiting out any 503 + Retry-After from the
small queue), every invalid one with its 4xx; afterwards the server is alive, its upload folder
empty and its memory (server plus worker) flat between the rounds.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from _servedata import Server, httpx, tiny_serve_checkpoint

pytestmark = pytest.mark.slow
TOKEN = "load-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
N_REQUESTS, N_VALID = 50, 20
ROUND_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from typer.testing import CliRunner

    from dfdetect.cli import app
    from dfdetect.synth import make_clip

    root = tmp_path_factory.mktemp("serve-load")
    clip = make_clip(root / "clip.mp4", fake=False, seed=5, width=128, height=128, n_frames=6)
    ckpt = tiny_serve_checkpoint(root / "tiny.ckpt")
    (root / "token").write_text(TOKEN)
    r = CliRunner().invoke(app, ["predict", str(clip), "-c", str(ckpt), "--format", "json", "--device", "cpu"],
                           env={"DFDETECT_CHECKPOINT": ""})
    assert r.exit_code == 0, r.output
    server = Server(["-c", str(ckpt), "--token-file", str(root / "token"), "--queue", "4", "--max-upload-mb", "1"],
                    root / "tmp")
    yield {"clip": clip.read_bytes(), "score": json.loads(r.stdout)[0]["fake_prob"], "server": server}
    server.stop()


def requests(clip: bytes) -> list[tuple[str, dict, int]]:
    """(kind, httpx request arguments, expected status) for one round, valid ones spread through."""
    invalid = [
        ("text", {"files": {"file": ("a.mp4", b"plain text, not a video\n" * 40)}, "headers": AUTH}, 415),
        ("empty", {"files": {"file": ("a.mp4", b"")}, "headers": AUTH}, 400),
        ("no token", {"files": {"file": ("a.mp4", clip)}}, 401),
        ("oversize", {"files": {"file": ("a.mp4", b"\x00\x00\x00\x18ftypmp42" + bytes(1_200_000))}, "headers": AUTH}, 413),
        ("path", {"json": {"path": "clip.mp4"}, "headers": AUTH}, 403),
        ("truncated", {"content": b'--zz\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\n' + clip[:3000],
                       "headers": {**AUTH, "Content-Type": "multipart/form-data; boundary=zz"}}, 400),
    ]
    valid = ("valid", {"files": {"file": ("clip.mp4", clip)}, "headers": AUTH}, 200)
    out, n_invalid = [], N_REQUESTS - N_VALID
    for i in range(N_REQUESTS):
        out.append(valid if i % 5 in (0, 3) and sum(k == "valid" for k, _, _ in out) < N_VALID
                   else invalid[i % len(invalid)])
    while sum(k == "valid" for k, _, _ in out) < N_VALID:  # keep the mix exact
        out[out.index(next(r for r in out if r[0] != "valid"))] = valid
    assert len(out) == N_REQUESTS and sum(k != "valid" for k, _, _ in out) == n_invalid
    return out


async def one(client: "httpx.AsyncClient", url: str, args: dict) -> tuple[int, dict, int]:
    """(status, body, 503s seen): a 503 from the full queue is retried after its Retry-After."""
    busy = 0
    while True:
        r = await client.post(url + "/v1/predict", **args)
        if r.status_code != 503:
            return r.status_code, r.json(), busy
        busy += 1
        assert int(r.headers["retry-after"]) >= 1 and r.json()["error"]
        await asyncio.sleep(min(int(r.headers["retry-after"]), 3))


async def run_round(url: str, clip: bytes) -> list[tuple[str, int, int, dict, int]]:
    plan = requests(clip)
    limits = httpx.Limits(max_connections=N_REQUESTS, max_keepalive_connections=N_REQUESTS)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        results = await asyncio.wait_for(asyncio.gather(*(one(client, url, args) for _, args, _ in plan)), ROUND_TIMEOUT_S)
    return [(kind, expected, status, body, busy) for (kind, _, expected), (status, body, busy) in zip(plan, results)]


def test_fifty_concurrent_requests_twice(setup: dict) -> None:
    server: Server = setup["server"]
    for _ in range(3):  # warm-up: the worker's first videos allocate its buffers
        assert httpx.post(server.url + "/v1/predict", files={"file": ("c.mp4", setup["clip"])}, headers=AUTH,
                          timeout=120).status_code == 200
    rss = [server.rss_mb()]
    busy_total = 0
    for _ in range(2):
        started = time.monotonic()
        results = asyncio.run(run_round(server.url, setup["clip"]))
        assert time.monotonic() - started < ROUND_TIMEOUT_S
        for kind, expected, status, body, busy in results:
            assert status == expected, (kind, status, body)
            assert ("fake_prob" in body and body["fake_prob"] == setup["score"]) if kind == "valid" else body["error"]
            busy_total += busy
        assert sum(kind == "valid" for kind, *_ in results) == N_VALID
        assert server.alive()
        assert list(server.upload_folder().iterdir()) == []
        rss.append(server.rss_mb())
    print(f"RSS (server + worker) MB: {', '.join(f'{r:.0f}' for r in rss)}; 503 + Retry-After answers: {busy_total}")
    assert rss[2] - rss[1] < 60, rss  # flat between rounds: nothing per request is kept
    assert rss[1] - rss[0] < 200, rss
