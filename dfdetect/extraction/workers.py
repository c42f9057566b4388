"""Worker processes that die with their parent.

`extract --workers N` runs a process pool. When the main process is killed with SIGKILL (the
out-of-memory killer, `kill -9`, a scheduler's hard limit) it cannot stop its workers, and they
would sit blocked on the pool's queue for as long as nobody kills them by hand. So each worker
asks the kernel to SIGKILL it when its parent dies (Linux: prctl PR_SET_PDEATHSIG) and, where
that is not available or as a fallback, a daemon thread checks the parent's pid every second.
A worker killed mid-video leaves only a hidden temporary file (writes are atomic); the next run
redoes that video.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
WATCH_SECONDS = 1.0


def die_with_parent(parent: int) -> None:
    """Make this process exit when `parent` (the pid that started it) dies."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the watchdog below still works
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)
    threading.Thread(target=_watch, args=(parent,), name="dfdetect-parent-watch", daemon=True).start()


def _watch(parent: int) -> None:
    # An orphan is re-parented (to init or a subreaper), so its parent pid changes.
    while os.getppid() == parent:
        time.sleep(WATCH_SECONDS)
    os._exit(1)
