"""Pieces shared by every subcommand: error handling and the common option types."""

from __future__ import annotations

import functools
import sys
from typing import Annotated, Any, Callable, TypeVar

import typer

from dfdetect import console
from dfdetect.errors import DfdetectError

F = TypeVar("F", bound=Callable[..., Any])

DeviceOption = Annotated[
    str, typer.Option("--device", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps.")
]
SeedOption = Annotated[int, typer.Option("--seed", help="Random seed; the same seed gives the same output.")]


def fail(message: str, code: int = 1) -> None:
    """Print a one-line `error: ...` to stderr and exit."""
    console.stderr.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def handle_errors(func: F) -> F:
    """Turn DfdetectError (and friends) into a one-line error; --debug lets the traceback through."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except DfdetectError as exc:
            if console.is_debug():
                raise
            fail(str(exc), getattr(exc, "exit_code", 1))
        except KeyboardInterrupt as exc:
            # a command that knows how to continue raises Interrupted with that advice
            console.stderr.print(str(exc) or "interrupted", highlight=False, soft_wrap=True)
            raise typer.Exit(130) from None
        except OSError as exc:  # a read-only or full disk, a path too long, ...: one line, no traceback
            if console.is_debug():
                raise
            from dfdetect.outputs import describe_os_error, is_disk_full

            message = describe_os_error(exc)
            if is_disk_full(exc):
                message += "; free some space (or choose another --out) and re-run: finished work is kept"
            fail(message)
        except MemoryError:
            if console.is_debug():
                raise
            fail("out of memory; lower --batch-size, --frames or --img-size")

    return wrapper  # type: ignore[return-value]


def check_checkpoint_arg(value: str, where: str) -> None:
    """A checkpoint named on the command line (or in $DFDETECT_CHECKPOINT) must be a file or a RUN
    folder holding best.ckpt; anything else is a usage error (exit 2) that says where it came from."""
    from pathlib import Path

    from dfdetect.errors import UsageError

    if not value.strip():
        raise UsageError(f"{where}: empty; pass a RUN folder from `dfdetect train` or a checkpoint file")
    path = Path(value)
    try:
        is_dir, exists = path.is_dir(), path.exists()
    except OSError as exc:
        raise UsageError(f"{where}: {exc.strerror}") from None
    if not exists:
        raise UsageError(f"{where}: no such checkpoint file or run folder; pass a RUN folder from `dfdetect train`")
    if is_dir and not (path / "best.ckpt").is_file():
        last = path / "last.ckpt"
        hint = f"{last} exists, pass it explicitly" if last.is_file() else "pass a RUN folder from `dfdetect train` or a .ckpt file"
        raise UsageError(f"{where}: no best.ckpt in this folder; {hint}")


def prefer_passive_openmp() -> None:
    """Call before torch loads: OpenMP threads then sleep instead of spin while they wait.

    On a small, busy CPU spinning threads made training and inference several times slower.
    A value the user already set wins.
    """
    import os

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()
