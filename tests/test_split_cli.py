"""`dfdetect split` through the CLI: the summary table, globs, and every bad input -> one-line error."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from conftest import wide_runner
from _splitdata import ffpp_rows, plain_rows, read, row, write_manifest
from dfdetect.cli import app

runner = wide_runner()


def split(*args: str):
    return runner.invoke(app, ["split", *map(str, args)])


def one_line_error(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_cli_writes_sets_table_and_summary(tmp_path):
    manifest = write_manifest(tmp_path / "DATA", ffpp_rows(40) + [row("gone", 0, "gone", status="no_face")])
    out = tmp_path / "SPLITS"
    result = split(manifest, "--out", out, "--test-ratios", "1:1,1:2,1:100", "--repeats", "2", "--seed", "3")
    assert result.exit_code == 0, result.output
    for header in ("set", "n_real", "n_fake", "ratio", "groups"):
        assert header in result.stdout
    table_row = next(line for line in result.stdout.splitlines() if "test_1to2_r1" in line)
    assert [cell.strip() for cell in table_row.split("│")[1:-1]] == ["test_1to2_r1", "8", "4", "1:2", "8"]
    assert "1:100" in result.stderr and "skipped" in result.stderr  # 8 test reals: no fake at 1:100
    assert "no_face: 1" in result.stderr
    summary = json.loads((out / "splits.json").read_text())
    assert summary["seed"] == 3 and summary["videos"] == {"rows": 201, "used": 200, "excluded": {"no_face": 1}}
    assert {f["file"] for f in summary["files"]} == {
        "train.csv", "val.csv", "test.csv", "test_1to1_r0.csv", "test_1to1_r1.csv", "test_1to2_r0.csv", "test_1to2_r1.csv"}
    assert len(read(out / "test_1to2_r1.csv")) == 12


def test_a_ratio_set_is_named_as_eval_names_it_with_the_rounded_ratio_beside(tmp_path):
    from dfdetect.evaluation.metrics import format_ratio, ratio_from_name

    # 50 real + 40 fake plain videos: the test set holds 10 reals, so 1:4 keeps floor(10/4) = 2 fakes (1:5)
    manifest = write_manifest(tmp_path / "DATA", plain_rows(50, 40))
    result = split(manifest, "--out", tmp_path / "S", "--test-ratios", "1:4,1:10")
    assert result.exit_code == 0, result.output
    cells = {c[0]: c for c in ([x.strip() for x in line.split("│")[1:-1]] for line in result.stdout.splitlines()) if c}
    assert cells["test_1to4"][1:5] == ["10", "2", format_ratio(ratio_from_name("test_1to4")), "1:5"]
    assert cells["test_1to10"][3:5] == ["1:10", ""]  # exact: no second figure
    assert "actual" in result.stdout


def test_cli_accepts_a_glob_of_manifest_parts(tmp_path):
    data = tmp_path / "DATA"
    rows = ffpp_rows(30)
    for i, start in enumerate(range(0, 150, 50)):
        write_manifest(data, rows[start:start + 50], f"manifest.part-{i}-of-3.csv")
    result = split(data / "manifest.part-*.csv", "--out", tmp_path / "S", "--test-ratios", "1:1")
    assert result.exit_code == 0, result.output
    assert sum(len(read(tmp_path / "S" / f"{n}.csv")) for n in ("train", "val", "test")) == 150


@pytest.mark.parametrize("ratio, reason", [
    ("10:1:2", "not a ratio"), ("0:5", "no fake videos"), ("abc", "not a ratio"),
    ("1:0", "asks for no real videos"), ("0:1", "asks for no fake videos"),
])
@pytest.mark.parametrize("flag", ["--test-ratios", "--train-ratio"])
def test_bad_ratio_is_a_usage_error(tmp_path, ratio, reason, flag):
    manifest = write_manifest(tmp_path / "DATA", ffpp_rows(10))
    result = split(manifest, "--out", tmp_path / "S", flag, ratio)
    assert result.exit_code == 2
    line = one_line_error(result)
    assert flag in line and ratio in line and reason in line
    assert not (tmp_path / "S").exists()


@pytest.mark.parametrize("flag, value", [("--test-size", "1.5"), ("--val-size", "-0.1"), ("--repeats", "0")])
def test_bad_sizes_are_usage_errors(tmp_path, flag, value):
    manifest = write_manifest(tmp_path / "DATA", ffpp_rows(10))
    result = split(manifest, "--out", tmp_path / "S", flag, value)
    assert result.exit_code == 2 and flag in one_line_error(result)


def _bad_manifest(tmp_path, case: str):
    data = tmp_path / "DATA"
    rows = ffpp_rows(6)
    if case == "missing columns":
        path = write_manifest(data, rows)
        pd.read_csv(path).drop(columns=["group", "status"]).to_csv(path, index=False)
        return path, "missing column(s) group, status"
    if case == "label 2":
        rows[3]["label"] = 2
        return write_manifest(data, rows), "label must be 0 (real) or 1 (fake), found '2'"
    if case == "label fake":
        rows[0]["label"] = "fake"
        return write_manifest(data, rows), "found 'fake'"
    if case == "empty label":
        rows[0]["label"] = ""
        return write_manifest(data, rows), "found ''"
    if case == "header only":
        return write_manifest(data, []), "has no videos"
    if case == "zero bytes":
        data.mkdir()
        (data / "manifest.csv").write_bytes(b"")
        return data / "manifest.csv", "the file is empty"
    if case == "nothing ok":
        return write_manifest(data, [row("a", 0, "a", status="error"), row("b", 1, "b", status="no_face")]), \
            "no video has status ok (error 1, no_face 1)"
    if case == "single class":
        return write_manifest(data, plain_rows(10, 0)), "every usable video is real (label 0); add fake (label 1)"
    if case == "single class after filtering":
        rows = plain_rows(5, 0) + [row("f", 1, "f", status="no_face")]
        return write_manifest(data, rows), "every usable video is real"
    if case == "duplicate ids":
        return write_manifest(data, rows + [rows[1], rows[6]]), "duplicate video_id 000_001_Deepfakes, 001"
    if case == "missing faces":
        path = write_manifest(data, rows)
        (data / "faces" / "002.npy").unlink()
        return path, "1 face stack(s) not found (first: faces/002.npy"
    if case == "bad split":
        rows[0]["split"] = "holdout"
        return write_manifest(data, rows), "split must be train, val, test or empty, found 'holdout'"
    if case == "no such file":
        return data / "nope.csv", "no such file"
    raise AssertionError(case)


@pytest.mark.parametrize("case", [
    "missing columns", "label 2", "label fake", "empty label", "header only", "zero bytes", "nothing ok",
    "single class", "single class after filtering", "duplicate ids", "missing faces", "bad split", "no such file",
])
def test_bad_manifest_is_a_one_line_data_error(tmp_path, case):
    path, expected = _bad_manifest(tmp_path, case)
    result = split(path, "--out", tmp_path / "S")
    assert result.exit_code == 1, result.output
    line = one_line_error(result)
    assert expected in line
    assert str(path) in line or case == "duplicate ids"  # names the file
    assert "Traceback" not in result.output


def test_fakes_min_error_and_unmatched_glob(tmp_path):
    manifest = write_manifest(tmp_path / "DATA", ffpp_rows(20))
    result = split(manifest, "--out", tmp_path / "S", "--test-ratios", "1:1,1:4", "--fakes-min", "2")
    assert result.exit_code == 1 and "1:4 would hold 1 fake(s), below --fakes-min 2" in one_line_error(result)
    result = split(tmp_path / "DATA" / "manifest.part-*.csv", "--out", tmp_path / "S")
    assert result.exit_code == 1 and "no file matches" in one_line_error(result)


def test_debug_lets_the_traceback_through(tmp_path):
    manifest = write_manifest(tmp_path / "DATA", plain_rows(4, 0))
    result = runner.invoke(app, ["--debug", "split", str(manifest), "--out", str(tmp_path / "S")])
    assert result.exit_code != 0 and result.exception is not None


def test_outputs_do_not_depend_on_python_hash_seed(tmp_path):
    """Set/dict order must never leak into the files: run in two interpreters with different hash seeds."""
    import os
    import subprocess
    import sys

    manifest = write_manifest(tmp_path / "DATA", ffpp_rows(30) + plain_rows(15, 6, methods=["a", "b", "c"]))
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        args = [sys.executable, "-m", "dfdetect", "-q", "split", str(manifest), "--out", str(tmp_path / hash_seed),
                "--test-ratios", "1:1,1:3", "--repeats", "2", "--train-ratio", "1:2", "--seed", "4"]
        subprocess.run(args, env=env, check=True, capture_output=True)
    names = sorted(p.name for p in (tmp_path / "1").iterdir())
    assert len(names) == 8
    for name in names:
        assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "2" / name).read_bytes(), name
