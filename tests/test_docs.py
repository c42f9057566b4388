"""The docs: the README's quick start runs as written, the README stays short, and nothing in the
repository's code or docs points to a file outside it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def quick_start_commands() -> list[str]:
    """The shell lines between the README's quick-start markers (continuations joined)."""
    text = README.read_text()
    block = re.search(r"<!-- quickstart -->\s*```bash\n(.*?)```", text, re.S)
    assert block, "README.md lost its <!-- quickstart --> block"
    joined = block.group(1).replace("\\\n", " ")
    return [line.split("  #")[0].strip() for line in joined.splitlines() if line.strip() and not line.startswith("#")]


def test_readme_fits_on_a_screen_or_two() -> None:
    assert len(README.read_text().splitlines()) <= 150


def test_readme_install_and_test_commands_are_what_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    text = README.read_text()
    for command in ('pip install -e ".[test]"', "pytest"):
        assert command in text and command in ci


def test_nothing_refers_to_files_outside_the_repository() -> None:
    outside = re.compile(r"DESIGN\.md|STYLE\.md|\.\./shared|/work/")
    # (benchmark and experiment scripts may read the CI fixture clips as data, with a skip; prose may not cite them)
    places = [README, ROOT / "mkdocs.yml", *ROOT.glob("docs/**/*.md"), *ROOT.glob("dfdetect/**/*.py"),
              *ROOT.glob("experiments/**/*.md")]
    hits = [f"{p.relative_to(ROOT)}:{n}" for p in places for n, line in enumerate(p.read_text().splitlines(), 1)
            if outside.search(line)]
    assert hits == []


def test_every_docs_page_is_in_the_navigation() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    pages = [p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")]
    assert pages and [p for p in pages if p not in nav] == []


@pytest.mark.slow
def test_quick_start_runs_as_written(tmp_path: Path) -> None:
    commands = quick_start_commands()
    assert any(c.startswith("dfdetect train") for c in commands) and any(c.startswith("dfdetect predict") for c in commands)
    exe = shutil.which("dfdetect", path=str(Path(sys.executable).parent)) or shutil.which("dfdetect")
    assert exe, "the dfdetect console script is not installed"
    env = {**os.environ, "PATH": f"{Path(exe).parent}{os.pathsep}{os.environ.get('PATH', '')}", "COLUMNS": "200",
           "OMP_NUM_THREADS": "2"}
    for command in commands:
        done = subprocess.run(command, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{command}\n{done.stderr[-2000:]}"
    # the last command scores two demo clips: one line per video with a probability and a verdict
    assert re.search(r"fake_000.*\d\.\d+", done.stdout) and re.search(r"real_000.*\d\.\d+", done.stdout), done.stdout
    # then the README's Python example, as written, on the same run folder
    code = re.search(r"<!-- quickstart-python -->\s*```python\n(.*?)```", README.read_text(), re.S).group(1)
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "fake_000.mp4" in done.stdout and "auc" in done.stdout
