"""Test-only fault injection: a process that SIGKILLs itself halfway through an atomic write.

TEST ONLY, never set in real use. With DFDETECT_TEST_KILL_AT_WRITE=[GLOB:]N in the environment,
the Nth atomic write in this process (counting only files whose name matches GLOB, default `*`)
writes the first half of its bytes to the temporary file, flushes them to disk and then kills
its own process with SIGKILL: the exact state an out-of-memory kill or a pulled plug leaves
behind, at a point a test chooses instead of a race it has to win. Without the variable this
module costs one dict lookup per write.
"""

from __future__ import annotations

import fnmatch
import io
import os
import signal
from typing import BinaryIO, Callable

ENV = "DFDETECT_TEST_KILL_AT_WRITE"
_counts: dict[str, int] = {}


def kill_due(name: str) -> bool:
    """True when the write of a file called `name` is the one the test asked to die in."""
    spec = os.environ.get(ENV)
    if not spec:
        return False
    pattern, _, n = spec.rpartition(":")
    pattern = pattern or "*"
    if not fnmatch.fnmatchcase(name, pattern):
        return False
    _counts[spec] = _counts.get(spec, 0) + 1
    return _counts[spec] == int(n)


def die_halfway(fh: BinaryIO, write: Callable[[BinaryIO], object]) -> None:
    """Write half of what `write` would write into `fh`, make it durable, then SIGKILL ourselves."""
    buf = io.BytesIO()
    write(buf)
    data = buf.getvalue()
    fh.write(data[: len(data) // 2])
    fh.flush()
    os.fsync(fh.fileno())
    os.kill(os.getpid(), signal.SIGKILL)
