"""`dfdetect predict`: formats, stdin input, a corrupt file in a batch, every exit code."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dfdetect.cli import app
from dfdetect.prediction.predictor import CHECKPOINT_ENV

from _evaldata import save_tiny_checkpoint

ENV = {"COLUMNS": "200", CHECKPOINT_ENV: ""}
FAST = ["--frames", "4", "--size", "32", "--device", "cpu"]


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from dfdetect.synth import make_clip

    root = tmp_path_factory.mktemp("predict")
    videos = root / "videos"
    real = make_clip(videos / "real_a.mp4", fake=False, seed=1, width=128, height=128, n_frames=6)
    fake = make_clip(videos / "sub" / "fake_b.mp4", fake=True, seed=2, width=128, height=128, n_frames=6)
    corrupt = root / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    ckpt = save_tiny_checkpoint(root / "run" / "best.ckpt", frames=4, img_size=32)
    return {"root": root, "videos": videos, "real": real, "fake": fake, "corrupt": corrupt, "run": root / "run",
            "ckpt": ckpt}


def invoke(args: list[str], env: dict | None = None, input: str | None = None):
    return CliRunner().invoke(app, ["predict", *args], env={**ENV, **(env or {})}, input=input)


def test_csv_when_piped_with_a_corrupt_file_and_a_missing_one(media: dict) -> None:
    missing = media["root"] / "nope.mp4"
    r = invoke([str(media["real"]), str(media["corrupt"]), str(missing), str(media["fake"]),
                "--checkpoint", str(media["run"]), *FAST])
    assert r.exit_code == 1, r.output  # some inputs failed, the others still reported
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [row["path"] for row in rows] == [str(media["real"]), str(media["corrupt"]), str(missing), str(media["fake"])]
    assert list(rows[0]) == ["path", "fake_prob", "verdict", "threshold", "frames", "faces", "status", "error"]
    good = [rows[0], rows[3]]
    for row in good:
        assert row["status"] == "ok" and row["error"] == ""
        assert 0.0 <= float(row["fake_prob"]) <= 1.0
        assert row["verdict"] == ("fake" if float(row["fake_prob"]) >= 0.5 else "real")
        assert int(row["frames"]) == 4 and int(row["faces"]) >= 1
    assert rows[1]["status"] == "error" and rows[1]["error"] and rows[1]["fake_prob"] == "" and rows[1]["verdict"] == ""
    assert rows[2]["status"] == "error" and "no such file" in rows[2]["error"]
    assert "1 real" in r.stderr or "1 fake" in r.stderr or "failed" in r.stderr


def test_json_jsonl_table_and_out_file(media: dict) -> None:
    base = [str(media["real"]), "--checkpoint", str(media["ckpt"]), *FAST]
    r = invoke(base + ["--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert len(data) == 1 and data[0]["path"] == str(media["real"]) and data[0]["status"] == "ok"
    prob = data[0]["fake_prob"]

    out = media["root"] / "res.jsonl"
    r = invoke(base + ["--format", "jsonl", "--out", str(out)])
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in r.stdout.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0]["fake_prob"] == pytest.approx(prob)  # same model, same score
    assert json.loads(out.read_text().splitlines()[0])["path"] == str(media["real"])

    r = invoke(base + ["--format", "table"])
    assert r.exit_code == 0, r.output
    assert "P(fake)" in r.stdout and "verdict" in r.stdout and "real_a.mp4" in r.stdout


def test_stdin_folders_and_env_checkpoint(media: dict) -> None:
    stdin = f"{media['real']}\n\n{media['fake']}\n"
    r = invoke(["-", *FAST], env={CHECKPOINT_ENV: str(media["run"])}, input=stdin)
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [row["path"] for row in rows] == [str(media["real"]), str(media["fake"])]
    # a folder is searched recursively, in a stable order
    r = invoke([str(media["videos"]), "--checkpoint", str(media["run"]), *FAST])
    assert r.exit_code == 0, r.output
    assert [Path(row["path"]).name for row in csv.DictReader(io.StringIO(r.stdout))] == ["real_a.mp4", "fake_b.mp4"]


def test_fail_on_fake_exit_code_3(media: dict) -> None:
    args = [str(media["real"]), str(media["fake"]), "--checkpoint", str(media["run"]), *FAST]
    r = invoke(args + ["--threshold", "0", "--fail-on-fake"])  # every video is judged fake
    assert r.exit_code == 3, r.output
    r = invoke(args + ["--threshold", "1", "--fail-on-fake"])  # none is
    assert r.exit_code == 0, r.output
    r = invoke(args + [str(media["corrupt"]), "--threshold", "0", "--fail-on-fake"])
    assert r.exit_code == 3, r.output  # a fake found wins over a failed input


def test_usage_errors_exit_2(media: dict) -> None:
    # (no checkpoint at all is not an error: the bundled default model answers, tests/test_default_model.py)
    r = invoke([str(media["real"]), "--checkpoint", str(media["run"]), "--format", "xml"])
    assert r.exit_code == 2 and "--format" in r.stderr
    assert "Traceback" not in r.output
    r = invoke(["-", "--checkpoint", str(media["run"])], input="\n")
    assert r.exit_code == 2 and "no videos" in r.stderr
    r = invoke([str(media["real"]), "--checkpoint", str(media["run"]), "--threshold", "2"])
    assert r.exit_code == 2


def test_frames_out_writes_timeline_csv_and_png(media: dict) -> None:
    import matplotlib.image as mpimg

    import shutil

    out = media["root"] / "frames"
    twin = media["root"] / "dup" / media["fake"].name  # same file name, another folder
    twin.parent.mkdir(exist_ok=True)
    shutil.copy(media["fake"], twin)
    r = invoke([str(media["fake"]), str(twin), "--checkpoint", str(media["run"]), "--frames-out", str(out), *FAST])
    assert r.exit_code == 0, r.output
    csvs, pngs = sorted(out.glob("*.csv")), sorted(out.glob("*.png"))
    assert len(csvs) == 2 and len(pngs) == 2  # the twin did not overwrite the first timeline
    rows = list(csv.DictReader(csvs[0].open()))
    assert len(rows) == 4 and all(0.0 <= float(r["prob"]) <= 1.0 for r in rows)
    assert [int(r["frame"]) for r in rows] == sorted(int(r["frame"]) for r in rows)  # source frame order
    assert pngs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and mpimg.imread(pngs[0]).ndim == 3


def test_help_documents_exit_codes() -> None:
    r = CliRunner().invoke(app, ["predict", "--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0
    assert "Exit codes" in r.stdout and "--fail-on-fake" in r.stdout and "3" in r.stdout


def test_extraction_settings_come_from_the_checkpoint_unless_overridden() -> None:
    from dfdetect.prediction.predictor import build_extract_options

    config = {"extraction": {"scale": 1.6, "size": 48, "detector": "opencv"}}
    opts = build_extract_options(config)
    assert (opts.scale, opts.size, opts.detector) == (1.6, 48, "opencv")
    opts = build_extract_options(config, size=64, detector=None, frames=5)
    assert (opts.scale, opts.size, opts.detector, opts.frames) == (1.6, 64, "opencv", 5)
    assert build_extract_options({}).detector == "dlib"  # no record: extract's defaults
