"""Writing extraction outputs safely: stacks, sidecars, and the manifest (whole or in shard parts).

Every file is written under a temporary name in its final folder and then renamed, so a killed
run leaves either the old file, the new file, or a hidden `.*.tmp` that nothing reads.
"""

from __future__ import annotations

import json
import os
import re
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from dfdetect.errors import DfdetectError
from dfdetect.manifest import (
    MANIFEST_COLUMNS,
    STATUS_ERROR,
    STATUS_NO_FACE,
    STATUS_OK,
    atomic_write,
    output_file_mode,
    write_csv_atomic,
)

MANIFEST_NAME = "manifest.csv"
CONFIG_NAME = "extract_config.json"
LOCK_NAME = ".manifest.lock"
PART_RE = re.compile(r"^manifest\.part-(\d+)-of-(\d+)\.csv$")
# Beyond the contract: the source video's shape, and the settings that made the crops (train
# records scale/size/detector in its checkpoint so that predict crops the same way).
EXTRA_COLUMNS = ["source_frames", "fps", "width", "height", "detector", "scale", "size", "sidecar", "note"]


def part_name(index: int, count: int) -> str:
    return f"manifest.part-{index}-of-{count}.csv"


def _atomic_write_bytes(path: Path, write) -> None:
    atomic_write(path, write)  # temp file + rename, mode from the umask (manifest.atomic_write)


def save_stack(path: Path, faces: np.ndarray) -> None:
    """np.save to a temp file in the same folder, then rename: a stack exists only when whole."""
    _atomic_write_bytes(path, lambda fh: np.save(fh, np.ascontiguousarray(faces, dtype=np.uint8)))


def save_json(path: Path, data: dict) -> None:
    _atomic_write_bytes(path, lambda fh: fh.write(json.dumps(data, indent=1).encode("utf-8")))


def stack_is_complete(path: Path, frames: str | int | None = None) -> bool:
    """True when the .npy exists, its header parses and the data is all there."""
    try:
        arr = np.load(path, mmap_mode="r")
    except (OSError, ValueError, EOFError):
        return False
    if arr.ndim != 4 or arr.shape[-1] != 3 or arr.dtype != np.uint8:
        return False
    return frames in (None, "") or str(arr.shape[0]) == str(frames)


def read_rows(path: Path, strict: bool = False) -> dict[str, dict[str, str]]:
    """Rows of a manifest or manifest part by video_id ({} when absent or empty).

    An unreadable file also gives {} unless `strict`: then it is an error, so that a writer never
    replaces a damaged manifest (and the rows it still holds) with its own few rows.
    """
    import pandas as pd

    if not path.is_file():
        return {}
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        return {}
    except (pd.errors.ParserError, UnicodeDecodeError):
        df = None
    if df is None or "video_id" not in df.columns:
        if strict:
            raise DfdetectError(f"{path}: not a readable manifest (no video_id column, or not CSV); "
                                "move it aside or repair it, then re-run (it was left as it is)")
        return {}
    return {r["video_id"]: r for r in df.to_dict("records")}


def write_rows(path: Path, rows: dict[str, dict[str, str]]) -> None:
    import pandas as pd

    columns = MANIFEST_COLUMNS + EXTRA_COLUMNS
    extras = sorted({k for r in rows.values() for k in r} - set(columns))
    # object dtype: an all-missing column must not become float64 (pandas 4 refuses to fill it with "")
    df = pd.DataFrame(list(rows.values()), columns=columns + extras, dtype=object).fillna("")
    write_csv_atomic(df, path)


def is_finished(row: dict[str, str] | None, out_dir: Path) -> bool:
    """A video is done when it had no face, or its stack is whole. Errors are retried."""
    if not row:
        return False
    if row.get("status") == STATUS_NO_FACE:
        return True
    if row.get("status") == STATUS_OK and row.get("faces_file"):
        return stack_is_complete(out_dir / row["faces_file"], row.get("frames"))
    return False


def check_config(out_dir: Path, fingerprint: dict) -> None:
    """A DATA folder holds stacks made one way: refuse to mix sizes, scales or detectors."""
    path = out_dir / CONFIG_NAME
    if path.is_file():
        try:
            old = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            old = None
        if isinstance(old, dict):
            diff = [f"--{k.replace('_', '-')} {'all' if old.get(k) is None else old.get(k)}"
                    for k in fingerprint if old.get(k) != fingerprint[k]]
            if diff:
                raise DfdetectError(
                    f"{out_dir} was extracted with {', '.join(diff)}; use those settings or another --out"
                )
            return
    save_json(path, fingerprint)


@contextmanager
def manifest_lock(out_dir: Path, timeout: float = 600.0) -> Iterator[None]:
    """Hold DATA/.manifest.lock exclusively: every read-modify-write of a manifest runs under it.

    An advisory `flock` (fcntl; msvcrt on Windows): the kernel drops it when the holder exits or is
    killed, so there is no stale lock to clean up. Not re-entrant: never nest two of them.
    """
    path = Path(out_dir) / LOCK_NAME
    fd = os.open(path, os.O_CREAT | os.O_RDWR, output_file_mode())
    try:
        deadline = time.monotonic() + timeout
        while not _try_lock(fd):
            if time.monotonic() > deadline:
                raise DfdetectError(
                    f"{path}: another dfdetect process has held the manifest lock for {timeout:.0f} s; "
                    "wait for it to finish (or stop it) and re-run"
                )
            time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def update_rows(
    path: Path, out_dir: Path, put: dict[str, dict[str, str]], drop: Iterable[str] = ()
) -> dict[str, dict[str, str]]:
    """Under the lock: re-read `path`, overlay `put`, remove `drop`, write it back; returns the rows.

    Rows that other processes wrote since we last looked are kept (a merge, never a blind rewrite).
    """
    with manifest_lock(out_dir):
        rows = read_rows(path, strict=True)
        rows.update(put)
        for vid in drop:
            rows.pop(vid, None)
        write_rows(path, rows)
    return rows


def merge_parts(out_dir: str | os.PathLike[str], remove_parts: bool = True) -> tuple[Path, int]:
    """Fold every manifest.part-*-of-*.csv into manifest.csv (a part's row wins over an older one;
    a finished row wins over an error). Returns the manifest path and its row count."""
    out = Path(out_dir)
    if not out.is_dir():
        raise DfdetectError(f"{out}: no such folder; pass the DATA folder that `dfdetect extract --shard` wrote")
    manifest = out / MANIFEST_NAME
    with manifest_lock(out):
        parts = sorted(p for p in out.iterdir() if PART_RE.match(p.name))
        if not parts and not manifest.is_file():
            raise DfdetectError(f"{out}: no manifest.csv and no manifest.part-*-of-*.csv to merge")
        rows = read_rows(manifest)
        for part in parts:
            for vid, row in read_rows(part).items():
                old = rows.get(vid)
                if old and old.get("status") != STATUS_ERROR and row.get("status") == STATUS_ERROR:
                    continue
                rows[vid] = row
        write_rows(manifest, rows)
        if remove_parts:
            for part in parts:
                part.unlink(missing_ok=True)
    return manifest, len(rows)
