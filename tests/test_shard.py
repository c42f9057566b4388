"""`--shard i/n|auto` (issue 12 E): one parser for extract and predict, job-array environments,
and shards that together cover every video exactly once."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from typer.testing import CliRunner

from _evaldata import save_tiny_checkpoint
from _extractdata import synth_clip
from dfdetect.cli import app
from dfdetect.errors import UsageError
from dfdetect.extraction import ExtractOptions, gather_inputs, run_extraction
from dfdetect.manifest import read_manifest
from dfdetect.sharding import parse_shard, part_path, shard_of

NO_ARRAY = {"PATH": "/usr/bin"}


@pytest.mark.parametrize("env, expected", [
    ({"SLURM_ARRAY_TASK_ID": "0", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_MAX": "7",
      "SLURM_ARRAY_TASK_COUNT": "8"}, (1, 8)),
    ({"SLURM_ARRAY_TASK_ID": "8", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "8"}, (8, 8)),
    ({"SLURM_ARRAY_TASK_ID": "20", "SLURM_ARRAY_TASK_MIN": "10", "SLURM_ARRAY_TASK_MAX": "30",
      "SLURM_ARRAY_TASK_STEP": "5", "SLURM_ARRAY_TASK_COUNT": "5"}, (3, 5)),
    ({"SGE_TASK_ID": "2", "SGE_TASK_FIRST": "1", "SGE_TASK_LAST": "4", "SGE_TASK_STEPSIZE": "1"}, (2, 4)),
    ({"JOB_COMPLETION_INDEX": "3", "DFDETECT_SHARD_COUNT": "4"}, (4, 4)),
    ({"AWS_BATCH_JOB_ARRAY_INDEX": "0", "DFDETECT_SHARD_COUNT": "2"}, (1, 2)),
    ({"DFDETECT_SHARD_INDEX": "1", "DFDETECT_SHARD_COUNT": "3"}, (2, 3)),
    # SGE outside a task array says 'undefined'; Kubernetes then decides
    ({"SGE_TASK_ID": "undefined", "JOB_COMPLETION_INDEX": "0", "DFDETECT_SHARD_COUNT": "1"}, (1, 1)),
])
def test_auto_reads_the_job_array_environment(env, expected):
    assert parse_shard("auto", env) == expected


@pytest.mark.parametrize("env, message", [
    (NO_ARRAY, "no job array index in the environment"),
    ({"JOB_COMPLETION_INDEX": "2"}, "set DFDETECT_SHARD_COUNT"),
    ({"JOB_COMPLETION_INDEX": "4", "DFDETECT_SHARD_COUNT": "4"}, "i must be between 1 and 4, not 5"),
    ({"SLURM_ARRAY_TASK_ID": "3"}, "SLURM_ARRAY_TASK_MIN"),
    ({"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "9",
      "SLURM_ARRAY_TASK_COUNT": "3"}, "not an evenly spaced range"),
    ({"SLURM_ARRAY_TASK_ID": "x", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "9"}, "not a whole number"),
    ({"SGE_TASK_ID": "2", "SGE_TASK_FIRST": "1", "SGE_TASK_LAST": "4", "SGE_TASK_STEPSIZE": "0"},
     r"SGE_TASK_STEPSIZE=0; a Grid Engine array's step must be at least 1"),
    ({"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "4",
      "SLURM_ARRAY_TASK_STEP": "-1"}, "step must be at least 1"),
])
def test_auto_fails_clearly(env, message):
    with pytest.raises(UsageError, match=message):
        parse_shard("auto", env)


def test_explicit_shards_and_their_errors():
    assert parse_shard("2/4") == (2, 4) and parse_shard(None) is None and parse_shard("") is None
    with pytest.raises(UsageError, match="n must be at least 1"):
        parse_shard("1/0")
    with pytest.raises(UsageError, match="between 1 and 4, not 5"):
        parse_shard("5/4")
    with pytest.raises(UsageError, match="i/n"):
        parse_shard("half")
    assert part_path("out/results.csv", (2, 8)) == "out/results.part-2-of-8.csv"
    assert part_path("results.jsonl", None) == "results.jsonl"


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shard")
    for i in range(5):
        synth_clip(root / f"clip{i}.mp4", seed=i, fake=bool(i % 2), n_frames=6, width=128, height=112)
    return root


def test_extract_shard_auto_from_slurm_covers_every_video_once(tmp_path, videos, monkeypatch):
    data = tmp_path / "data"
    for task in (0, 1, 2):
        env = {"SLURM_ARRAY_TASK_ID": str(task), "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_MAX": "2"}
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        run_extraction(gather_inputs([videos], label="real"), data, ExtractOptions(frames=2, size=32),
                       shard=parse_shard("auto"))
    df = read_manifest(data / "manifest.csv")  # the last shard merged the parts
    assert sorted(df["video_id"]) == [f"clip{i}" for i in range(5)] and set(df["status"]) == {"ok"}
    assert not list(data.glob("manifest.part-*"))


def test_extract_cli_shard_auto_without_an_array_is_a_usage_error(tmp_path, videos):
    r = CliRunner().invoke(app, ["extract", str(videos), "--out", str(tmp_path / "d"), "--shard", "auto"],
                           env={"SLURM_ARRAY_TASK_ID": None, "JOB_COMPLETION_INDEX": None, "SGE_TASK_ID": None,
                                "AWS_BATCH_JOB_ARRAY_INDEX": None, "DFDETECT_SHARD_INDEX": None})
    assert r.exit_code == 2 and "no job array index" in r.output
    assert not (tmp_path / "d" / "manifest.csv").exists()


def test_predict_shards_write_their_own_parts_and_cover_every_video_once(tmp_path, videos, monkeypatch):
    ckpt = save_tiny_checkpoint(tmp_path / "run" / "best.ckpt", frames=2, img_size=32)
    monkeypatch.chdir(videos)  # paths as listed are the shard keys: keep them independent of tmp_path
    paths = sorted(p.name for p in videos.glob("*.mp4"))
    assert len({shard_of(p, 2) for p in paths}) == 2  # both shards get work
    out = tmp_path / "res" / "scores.csv"
    seen = []
    for i in (1, 2):
        r = CliRunner().invoke(app, ["predict", *paths, "--checkpoint", str(ckpt), "--frames", "2", "--size", "32",
                                     "--device", "cpu", "--format", "csv", "--out", str(out), "--shard", "auto"],
                               env={"JOB_COMPLETION_INDEX": str(i - 1), "DFDETECT_SHARD_COUNT": "2",
                                    "SLURM_ARRAY_TASK_ID": None, "SGE_TASK_ID": None, "DFDETECT_CHECKPOINT": ""})
        assert r.exit_code == 0, r.output
        part = tmp_path / "res" / f"scores.part-{i}-of-2.csv"
        rows = list(csv.DictReader(io.StringIO(part.read_text())))
        assert [row["path"] for row in rows] == [p for p in paths if shard_of(p, 2) == i]
        assert rows == list(csv.DictReader(io.StringIO(r.stdout)))
        seen += [row["path"] for row in rows]
    assert sorted(seen) == paths and not out.exists()
