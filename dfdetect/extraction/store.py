"""Writing extraction outputs safely: stacks, sidecars, and the manifest (whole or in shard parts).

Every file is written under a temporary name in its final folder and then renamed, so a killed
run leaves either the old file, the new file, or a hidden `.*.tmp` that nothing reads.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from dfdetect import faults
from dfdetect.errors import DfdetectError
from dfdetect.manifest import MANIFEST_COLUMNS, STATUS_ERROR, STATUS_NO_FACE, STATUS_OK, write_csv_atomic

MANIFEST_NAME = "manifest.csv"
CONFIG_NAME = "extract_config.json"
PART_RE = re.compile(r"^manifest\.part-(\d+)-of-(\d+)\.csv$")
# Beyond the contract: the source video's shape, and the settings that made the crops (train
# records scale/size/detector in its checkpoint so that predict crops the same way).
EXTRA_COLUMNS = ["source_frames", "fps", "width", "height", "detector", "scale", "size", "sidecar"]


def part_name(index: int, count: int) -> str:
    return f"manifest.part-{index}-of-{count}.csv"


_file_mode: list[int] = []


def _default_file_mode() -> int:
    """0666 minus the umask (read once, on first write, not at import)."""
    if not _file_mode:
        mask = os.umask(0o022)
        os.umask(mask)
        _file_mode.append(0o666 & ~mask)
    return _file_mode[0]


def _atomic_write_bytes(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            if faults.kill_due(path.name):  # test-only fault injection (dfdetect/faults.py)
                faults.die_halfway(fh, write)
            write(fh)
        os.chmod(tmp, _default_file_mode())  # mkstemp makes 0600; outputs should be as readable as any file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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


def read_rows(path: Path) -> dict[str, dict[str, str]]:
    """Rows of a manifest or manifest part by video_id ({} when absent or unreadable)."""
    import pandas as pd

    if not path.is_file():
        return {}
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError):
        return {}
    if "video_id" not in df.columns:
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
def file_lock(path: Path, timeout: float = 120.0, stale: float = 300.0) -> Iterator[None]:
    """A lock file made with O_EXCL (works across processes and on most network filesystems)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            break
        except FileExistsError:
            try:
                if time.time() - path.stat().st_mtime > stale:
                    path.unlink(missing_ok=True)
                    continue
            except FileNotFoundError:
                continue
            if time.monotonic() > deadline:
                raise DfdetectError(f"{path}: held by another extract for {timeout:.0f} s; remove it if none runs") from None
            time.sleep(0.2)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def merge_parts(out_dir: str | os.PathLike[str], remove_parts: bool = True) -> tuple[Path, int]:
    """Fold every manifest.part-*-of-*.csv into manifest.csv (a part's row wins over an older one;
    a finished row wins over an error). Returns the manifest path and its row count."""
    out = Path(out_dir)
    if not out.is_dir():
        raise DfdetectError(f"{out}: no such folder; pass the DATA folder that `dfdetect extract --shard` wrote")
    manifest = out / MANIFEST_NAME
    with file_lock(out / ".manifest.lock"):
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
