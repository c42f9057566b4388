"""Issue 12 D: the first five minutes: examples in every --help, flags shown as flags, detectors
listed, `dfdetect models` at 80 columns, and docs that agree with the help."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dfdetect.cli import SUBCOMMANDS, app

README = Path(__file__).resolve().parents[1] / "README.md"


def run(*args: str, columns: int = 100):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": str(columns)})


@pytest.mark.parametrize("name", [name for name, _ in SUBCOMMANDS])
def test_every_help_ends_with_examples(name: str) -> None:
    r = run(name, "--help", columns=200)
    assert r.exit_code == 0, r.output
    lines = [line.strip() for line in r.stdout.splitlines() if line.strip()]
    tail = lines[lines.index("Examples") + 1:]
    assert 2 <= len(tail) <= 3 and all(line.startswith(f"dfdetect {name}") or "| dfdetect" in line for line in tail)


@pytest.mark.parametrize("args", [["--help"], ["train", "--help"], ["predict", "--help"], ["split", "--help"]])
def test_flags_are_shown_without_a_value_type(args: list[str]) -> None:
    r = run(*args)
    assert r.exit_code == 0 and "<bool>" not in r.stdout


def test_detectors_are_listed_where_extract_help_points() -> None:
    help_text = run("extract", "--help", columns=200).stdout
    assert "dfdetect models" in help_text
    r = run("models", "--no-params", columns=80)
    assert r.exit_code == 0, r.output
    assert "face detectors" in r.stdout
    for name in ("dlib", "dlib-cnn", "mtcnn", "opencv"):
        assert re.search(rf"│ {re.escape(name)} +│", r.stdout), name


def test_models_is_readable_at_80_columns() -> None:
    r = run("models", "--no-params", columns=80)
    assert r.exit_code == 0, r.output
    assert all(len(line) <= 80 for line in r.stdout.splitlines())
    assert "…" not in r.stdout  # nothing cut off: names, sizes and options are whole
    assert "32x3x64x64" in r.stdout and "backbone=resnet50" in r.stdout


def test_benchmark_help_and_docs_give_the_same_duration() -> None:
    page = README.parent / "docs" / "commands" / "benchmark.md"
    if not page.is_file():
        pytest.skip("docs/commands/benchmark.md not present")
    help_minutes = re.search(r"about (\d+) minutes", " ".join(run("benchmark", "--help", columns=200).stdout.split()))
    readme_minutes = re.search(r"dfdetect benchmark\s+#[^\n]*built-in synthetic data, ~(\d+) min", page.read_text())
    assert help_minutes and readme_minutes
    assert help_minutes.group(1) == readme_minutes.group(1)
