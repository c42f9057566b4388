"""Checks on output locations, made before any work starts, and the OSErrors they turn into one line.

A command that scores a thousand videos and only then finds its --out folder read-only has wasted
the run; these checks probe the place (without creating it) first. `describe_os_error` turns the
OSErrors that still happen later (a disk filling up mid-run, a path too long) into one line.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

from dfdetect.errors import DfdetectError, UsageError

# errno values that mean "nothing more can be written here": stop the batch rather than fail
# every remaining item the same way.
DISK_FULL_ERRNOS = frozenset(e for e in (errno.ENOSPC, getattr(errno, "EDQUOT", None), errno.EFBIG) if e is not None)
MIN_FREE_BYTES = 1 << 20  # below this a folder counts as full before the work starts

_REASONS = {
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "read-only file system",
    errno.ENOSPC: "disk full (no space left on device)",
    errno.EFBIG: "disk full (file size limit reached)",
    errno.ENAMETOOLONG: "file name too long",
    errno.ENOTDIR: "a path component is a file, not a folder",
    errno.EEXIST: "a file is in the way",
}
if hasattr(errno, "EDQUOT"):
    _REASONS[errno.EDQUOT] = "disk full (quota exceeded)"


def is_disk_full(exc: BaseException) -> bool:
    """ENOSPC and kin, and numpy's short write ("N requested and M written", no errno), which on
    a regular file means the same."""
    if not isinstance(exc, OSError):
        return False
    if exc.errno is None:
        text = str(exc)
        return "requested and" in text and "written" in text
    return exc.errno in DISK_FULL_ERRNOS


def describe_os_error(exc: OSError) -> str:
    """One line for an OSError: the file, then a plain reason ("disk full", "file name too long")."""
    reason = _REASONS.get(exc.errno or -1) or exc.strerror or str(exc)
    if exc.errno is None and is_disk_full(exc):
        reason = f"disk full ({exc})"
    name = exc.filename if exc.filename is not None else ""
    return f"{name}: {reason}" if name else reason


def _exists(p: Path) -> bool:
    try:
        return p.exists()
    except OSError as exc:  # ENAMETOOLONG and friends: Path.exists only swallows "not found"
        raise DfdetectError(describe_os_error(exc) if exc.filename else f"{p}: {describe_os_error(exc)}") from None


def _nearest_existing(p: Path) -> Path:
    p = Path(os.path.abspath(p))
    while not _exists(p) and p != p.parent:
        p = p.parent
    return p


def _probe(folder: Path, target: Path, option: str) -> None:
    """Create and delete a file in `folder`: the one test that also holds for root, ACLs and
    read-only mounts."""
    if not folder.is_dir():
        raise UsageError(f"{option} {target}: {folder} is a file, not a folder; choose another {option}")
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".dfdetect-probe-"):
            pass
    except OSError as exc:
        raise DfdetectError(f"{option} {target}: cannot write in {folder} ({_REASONS.get(exc.errno or -1, exc.strerror)}); "
                            f"choose another {option}") from None
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if free < MIN_FREE_BYTES:
        raise DfdetectError(f"{option} {target}: disk full ({free} bytes free in {folder}); free some space "
                            f"or choose another {option}")


def check_output_dir(path: str | os.PathLike[str], option: str = "--out") -> Path:
    """Fail now, in one line, if `path` cannot become (or is not) a writable folder. Creates nothing."""
    p = Path(path)
    if _exists(p) and not p.is_dir():
        raise UsageError(f"{option} {p}: is a file, not a folder; choose a folder")
    _probe(_nearest_existing(p), p, option)
    return p


def check_output_file(path: str | os.PathLike[str], option: str = "--out") -> Path:
    """Fail now, in one line, if the file `path` cannot be written. Creates nothing."""
    p = Path(path)
    if _exists(p):
        if p.is_dir():
            raise UsageError(f"{option} {p}: is a folder; give a file name")
        if not os.access(p, os.W_OK):
            raise DfdetectError(f"{option} {p}: the file is not writable; choose another {option}")
    _probe(_nearest_existing(p.parent), p, option)
    return p


def check_input_file(path: str | os.PathLike[str], what: str, option: str | None = None) -> Path:
    """An input that must exist as a file; `what` says which file it should be (and where it comes from)."""
    p = Path(path)
    label = f"{option} {p}" if option else str(p)
    if not _exists(p):
        raise DfdetectError(f"{label}: no such file; pass {what}")
    if p.is_dir():
        raise DfdetectError(f"{label}: is a folder; pass {what}")
    return p
