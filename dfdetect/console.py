"""Shared rich consoles and progress bars.

Data goes to stdout, logs and progress to stderr (docs/formats.md). Progress bars stay quiet when
stderr is not a terminal or when the global `--quiet` flag is set.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

# emoji=False: otherwise rich renders ratios such as "1:100" as an emoji code (":100:").
stdout = Console(soft_wrap=True, emoji=False)
stderr = Console(stderr=True, emoji=False)

_state = {"quiet": False, "debug": False}


def configure(quiet: bool = False, debug: bool = False) -> None:
    """Called once by the CLI callback; library users may call it too."""
    _state["quiet"] = quiet
    _state["debug"] = debug
    level = logging.DEBUG if debug else (logging.WARNING if quiet else logging.INFO)
    logger = logging.getLogger("dfdetect")
    logger.handlers.clear()
    handler = RichHandler(console=stderr, show_time=False, show_path=debug, markup=False)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def is_quiet() -> bool:
    return _state["quiet"]


def is_debug() -> bool:
    return _state["debug"]


def info(message: str) -> None:
    """A status line on stderr, suppressed by --quiet."""
    if not _state["quiet"]:
        stderr.print(message, highlight=False)


def warn(message: str) -> None:
    """A warning on stderr; shown even with --quiet."""
    stderr.print(f"[yellow]warning:[/] {message}", highlight=False)


def make_progress(transient: bool = False) -> Progress:
    """A rich progress bar on stderr, disabled when quiet or stderr is not a terminal."""
    disable = _state["quiet"] or not stderr.is_terminal
    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        console=stderr,
        transient=transient,
        disable=disable,
    )


@contextmanager
def progress_task(description: str, total: int | None) -> Iterator[tuple[Progress, int]]:
    """Context manager yielding (progress, task_id); `status` is a free-text field."""
    with make_progress() as progress:
        task = progress.add_task(description, total=total, status="")
        yield progress, task
