"""`dfdetect serve` over real HTTP: the token, path confinement, bad uploads, jobs, clean-up, SIGTERM.

One real server (a subprocess, a tiny checkpoint, a loopback port) for the whole module; the last
test stops it with SIGTERM.
"""

from __future__ import annotations

import json
import math
import socket
import time

import pytest

from _servedata import Server, httpx, tiny_serve_checkpoint

pytestmark = pytest.mark.slow
TOKEN = "s3cret-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CALIBRATION = {"method": "temperature", "temperature": 2.0, "threshold": 0.52, "policy": "balanced"}


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from dfdetect.synth import make_clip

    root = tmp_path_factory.mktemp("serve")
    allowed = root / "allowed"
    clip = make_clip(allowed / "clip.mp4", fake=True, seed=3, width=128, height=128, n_frames=6)
    outside = make_clip(root / "outside" / "secret.mp4", fake=False, seed=4, width=128, height=128, n_frames=6)
    (allowed / "link.mp4").symlink_to(outside)
    token_file = root / "token"
    token_file.write_text(TOKEN + "\n")
    ckpt = tiny_serve_checkpoint(root / "tiny.ckpt", calibration=CALIBRATION)
    return {"root": root, "allowed": allowed, "clip": clip, "outside": outside, "ckpt": ckpt, "token": token_file}


@pytest.fixture(scope="module")
def server(media: dict):
    srv = Server(["-c", str(media["ckpt"]), "--token-file", str(media["token"]), "--allow-paths", str(media["allowed"]),
                  "--max-upload-mb", "1"], media["root"] / "tmp")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def cli_score(media: dict) -> float:
    """What `dfdetect predict --format json` says about the clip with the same checkpoint."""
    from typer.testing import CliRunner

    from dfdetect.cli import app

    r = CliRunner().invoke(app, ["predict", str(media["clip"]), "-c", str(media["ckpt"]), "--format", "json",
                                 "--device", "cpu"], env={"DFDETECT_CHECKPOINT": ""})
    assert r.exit_code == 0, r.output
    row = json.loads(r.stdout)[0]
    assert row["threshold"] == CALIBRATION["threshold"]  # the CLI reads the calibration too
    return row["fake_prob"]


def post_file(server: Server, data: bytes, name: str = "clip.mp4", headers: dict | None = None, **params) -> httpx.Response:
    return httpx.post(server.url + "/v1/predict", files={"file": (name, data, "video/mp4")},
                      headers=AUTH if headers is None else headers, params=params, timeout=120)


def assert_json_error(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert body["error"] and "fix" in body and "Traceback" not in r.text
    return body


def test_health_is_open_and_the_token_guards_v1(server: Server) -> None:
    health = httpx.get(server.url + "/healthz")
    assert health.status_code == 200 and health.json()["model"] == "dual" and health.json()["token_required"]
    r = httpx.get(server.url + "/v1/model")
    assert assert_json_error(r, 401) and r.headers["www-authenticate"] == "Bearer"
    assert_json_error(httpx.get(server.url + "/v1/model", headers={"Authorization": "Bearer wrong"}), 401)
    assert_json_error(httpx.get(server.url + "/v1/model", headers={"Authorization": TOKEN}), 401)  # no scheme
    model = httpx.get(server.url + "/v1/model", headers=AUTH).json()
    assert model["model"] == "dual" and model["input"]["img_size"] == 32 and model["extraction"]["frames"] == 4
    assert model["threshold"] == 0.52 and model["calibration"]["temperature"] == 2.0  # the checkpoint's own
    assert model["trust"] and model["paths_allowed"] and model["params"] > 0 and model["description"]
    # uploads are refused before they are read
    assert_json_error(post_file(server, b"x" * 100, headers={}), 401)
    page = httpx.get(server.url + "/")
    assert page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    spec = httpx.get(server.url + "/openapi.json").json()
    assert {"/v1/predict", "/v1/jobs", "/v1/jobs/{job_id}", "/v1/model", "/healthz"} <= set(spec["paths"])


def test_upload_scores_like_the_cli(server: Server, media: dict, cli_score: float) -> None:
    r = post_file(server, media["clip"].read_bytes(), name="../../etc/evil name.mp4")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["fake_prob"] == cli_score
    assert body["path"] == "evil name.mp4"  # the client's name is shown, never used as a path
    assert body["threshold"] == 0.52 and body["verdict"] == ("fake" if cli_score >= 0.52 else "real")
    assert body["frame_threshold"] != 0.52  # the same threshold on the frames' raw scale
    assert body["status"] == "ok" and body["frames"] == 4 and len(body["timeline"]) == 4
    # a calibrated checkpoint (temperature 2.0): each frame also on the verdict's scale, for the page
    for point in body["timeline"]:
        z = math.log(point["prob"] / (1 - point["prob"]))
        assert point["calibrated"] == pytest.approx(1 / (1 + math.exp(-z / 2.0)), abs=1e-5)
    assert "explain_png" not in body
    explained = post_file(server, media["clip"].read_bytes(), explain=1).json()
    assert explained["fake_prob"] == cli_score and explained["explain_png"].startswith("data:image/png;base64,")
    assert list(server.upload_folder().iterdir()) == []


def test_paths_are_confined_to_the_allowed_folder(server: Server, media: dict, cli_score: float) -> None:
    def by_path(path: str) -> httpx.Response:
        return httpx.post(server.url + "/v1/predict", json={"path": path}, headers=AUTH, timeout=120)

    ok = by_path("clip.mp4")
    assert ok.status_code == 200 and ok.json()["fake_prob"] == cli_score and ok.json()["path"] == "clip.mp4"
    assert by_path(str(media["clip"])).json()["fake_prob"] == cli_score  # absolute, but inside
    for escape in ("../outside/secret.mp4", "link.mp4", str(media["outside"]), "sub/../../outside/secret.mp4"):
        assert_json_error(by_path(escape), 403)
    assert_json_error(by_path("missing.mp4"), 404)
    assert_json_error(by_path("x" * 100_000), 413)  # a JSON body is capped too
    assert_json_error(by_path(""), 400)
    assert_json_error(httpx.post(server.url + "/v1/predict", content=b"{not json", headers={
        **AUTH, "Content-Type": "application/json"}), 400)
    assert media["outside"].is_file() and media["clip"].is_file()  # never deleted: not uploads


def test_bad_uploads_get_json_errors_and_leave_nothing(server: Server, media: dict) -> None:
    assert_json_error(post_file(server, b""), 400)
    assert "not a video" in assert_json_error(post_file(server, b"hello, I am text\n" * 50, name="fake.mp4"), 415)["error"]
    assert_json_error(post_file(server, b"\x89PNG\r\n\x1a\n" + bytes(2000), name="x.mp4"), 415)
    big = b"\x00\x00\x00\x18ftypmp42" + bytes(int(1.5 * 1024 * 1024))
    assert_json_error(post_file(server, big), 413)

    def chunks():  # no Content-Length: the cap is enforced while the bytes arrive
        boundary = b"--b0undary"
        yield boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n\r\n'
        for _ in range(24):
            yield b"\x00\x00\x00\x18ftypmp42" + bytes(100_000)
        yield b"\r\n" + boundary + b"--\r\n"

    chunked = httpx.post(server.url + "/v1/predict", content=chunks(), timeout=60,
                         headers={**AUTH, "Content-Type": "multipart/form-data; boundary=b0undary"})
    assert_json_error(chunked, 413)
    # a video cut in half: the container is right, the decoder may fail; a JSON answer either way
    half = media["clip"].read_bytes()[: media["clip"].stat().st_size // 2]
    r = post_file(server, half)
    assert r.status_code in (200, 422), r.text
    assert "fake_prob" in r.json()
    # the form ends before its closing boundary
    body = b'--zz\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n\r\n' + media["clip"].read_bytes()[:5000]
    cut = httpx.post(server.url + "/v1/predict", content=body, headers={**AUTH, "Content-Type": "multipart/form-data; boundary=zz"})
    assert "cut short" in assert_json_error(cut, 400)["error"]
    assert_json_error(httpx.post(server.url + "/v1/predict", files={"other": ("a", b"x")}, headers=AUTH), 400)
    assert_json_error(httpx.post(server.url + "/v1/predict", content=b"x", headers={**AUTH, "Content-Type": "text/plain"}), 400)
    assert list(server.upload_folder().iterdir()) == []
    assert server.alive()


def test_a_client_that_disconnects_mid_upload_leaves_nothing(server: Server, media: dict) -> None:
    head = (b'--zz\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n'
            b"Content-Type: video/mp4\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=zz\r\n"
                  + f"Authorization: Bearer {TOKEN}\r\nContent-Length: 900000\r\n\r\n".encode() + head
                  + media["clip"].read_bytes()[:20000])
        deadline = time.monotonic() + 10
        while not list(server.upload_folder().iterdir()) and time.monotonic() < deadline:
            time.sleep(0.05)  # the partial file exists while the upload is in progress
        assert list(server.upload_folder().iterdir()), "the upload never started"
    deadline = time.monotonic() + 15
    while list(server.upload_folder().iterdir()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert list(server.upload_folder().iterdir()) == []
    assert server.alive()


def test_jobs_report_progress_and_results(server: Server, media: dict, cli_score: float) -> None:
    r = httpx.post(server.url + "/v1/jobs", files={"file": ("c.mp4", media["clip"].read_bytes())}, headers=AUTH)
    assert r.status_code == 202 and r.headers["location"] == r.json()["url"]
    deadline, state = time.monotonic() + 120, {}
    while time.monotonic() < deadline:
        state = httpx.get(server.url + r.json()["url"], headers=AUTH).json()
        assert state["state"] in ("queued", "running", "done") and 0 <= state["progress"] <= 1
        if state["state"] == "done":
            break
        time.sleep(0.2)
    assert state["state"] == "done" and state["progress"] == 1 and state["result"]["fake_prob"] == cli_score
    assert state["elapsed_seconds"] >= 0 and state["typical_seconds"] > 0
    assert_json_error(httpx.get(server.url + "/v1/jobs/nope", headers=AUTH), 404)
    assert_json_error(httpx.get(server.url + r.json()["url"]), 401)


def test_sigterm_finishes_the_running_job_and_cleans_up(server: Server, media: dict, cli_score: float) -> None:
    import threading

    folder = server.upload_folder()
    answers: list[httpx.Response] = []
    request = threading.Thread(target=lambda: answers.append(
        post_file(server, media["clip"].read_bytes(), explain=1)))
    request.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and request.is_alive():
        if httpx.get(server.url + "/healthz").json()["running"]:
            break  # the video is being scored now
        time.sleep(0.01)
    assert server.stop() == 0, server.output()
    request.join(60)
    assert answers and answers[0].status_code == 200, answers  # the running video was finished and answered
    assert answers[0].json()["fake_prob"] == cli_score
    assert not folder.exists()
    assert "Traceback" not in server.output() and "serve: stopped" in server.output()
