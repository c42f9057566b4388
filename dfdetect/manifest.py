"""The manifest contract between subcommands (docs/formats.md).

Every CSV that a subcommand reads or writes (manifest.csv, train.csv, test_1to10.csv, ...) has at
least `MANIFEST_COLUMNS`. Labels: 1 = fake, 0 = real, empty = unknown.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Callable, Iterable

from dfdetect import faults
from dfdetect.errors import DfdetectError

if TYPE_CHECKING:
    import pandas as pd

MANIFEST_COLUMNS = [
    "video_id", "path", "label", "group", "method", "dataset", "split",
    "frames", "faces", "faces_file", "status", "error",
]
STATUS_OK, STATUS_NO_FACE, STATUS_ERROR = "ok", "no_face", "error"
LABEL_NAMES = {0: "real", 1: "fake"}

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def parse_label(value: object) -> int | None:
    """'real'/'fake'/0/1/'' -> 0/1/None. Raises DfdetectError on anything else."""
    if value is None:
        return None
    if isinstance(value, float) and value != value:  # NaN from pandas
        return None
    text = str(value).strip().lower()
    if text in ("", "none", "nan", "unknown"):
        return None
    if text in ("1", "1.0", "fake", "manipulated", "synthesis"):
        return 1
    if text in ("0", "0.0", "real", "original", "pristine"):
        return 0
    raise DfdetectError(f"label '{value}' is neither real/0 nor fake/1")


def safe_video_id(path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> str:
    """A filesystem-safe, unique-ish id derived from a path: no '/', no '..', ASCII only.

    The id is the path relative to `root` (or the file name) with separators turned into '__',
    unsafe characters replaced, and a short hash of the full path appended whenever the cleaning
    lost information, so that two different inputs never share an id.
    """
    p = Path(path)
    try:
        rel = p.relative_to(root) if root is not None else Path(p.name)
    except ValueError:
        rel = Path(p.name)
    raw = "__".join(part for part in rel.with_suffix("").parts if part not in ("", ".", "/"))
    ascii_text = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode("ascii")
    cleaned = _UNSAFE.sub("_", ascii_text).strip("._-")
    cleaned = cleaned.replace("..", "_")[:120] or "video"
    if cleaned != raw:
        digest = hashlib.sha1(str(p).encode("utf-8", "surrogateescape")).hexdigest()[:8]
        cleaned = f"{cleaned}-{digest}"
    return cleaned


def resolve_faces_path(csv_path: str | os.PathLike[str], faces_file: str) -> Path:
    """The path rule (docs/formats.md): relative faces_file resolves against the CSV's folder."""
    f = Path(faces_file)
    return f if f.is_absolute() else Path(csv_path).resolve().parent / f


def read_manifest(path: str | os.PathLike[str], required: Iterable[str] = MANIFEST_COLUMNS) -> "pd.DataFrame":
    """Read a manifest-style CSV with every column as string (empty cells stay empty strings).

    Raises a one-line DfdetectError naming the file and the fix when it is missing, unreadable or
    lacks required columns.
    """
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise DfdetectError(f"{p}: no such file; pass the manifest.csv written by `dfdetect extract`")
    try:
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DfdetectError(f"{p}: the file is empty; re-run `dfdetect extract` to write it") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DfdetectError(f"{p}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DfdetectError(
            f"{p}: missing column(s) {', '.join(missing)}; a manifest needs {', '.join(MANIFEST_COLUMNS)}"
        )
    return df


def output_file_mode() -> int:
    """0666 minus the process umask: the mode `open()` would give a new file.

    Read from /proc on Linux (no race with other threads); elsewhere by setting and restoring it.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> Path:
    """Write a file via a temporary file in its folder and a rename, so readers never see half a
    file and a killed run leaves only a hidden `.*.tmp`. The one helper every output goes through.

    mkstemp creates 0600; the file is chmod-ed to what the umask allows (like any other output), so
    manifests, split CSVs, checkpoints and metrics are readable by a shared cluster group.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            if faults.kill_due(p.name):  # test-only fault injection (dfdetect/faults.py)
                faults.die_halfway(fh, write)
            write(fh)
        os.chmod(tmp, output_file_mode())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


def write_csv_atomic(df: "pd.DataFrame", path: str | os.PathLike[str]) -> None:
    """Write a CSV atomically (see `atomic_write`)."""
    text = df.to_csv(index=False, lineterminator="\n")
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))


def order_columns(df: "pd.DataFrame") -> "pd.DataFrame":
    """Contract columns first, in contract order, then any extras."""
    extras = [c for c in df.columns if c not in MANIFEST_COLUMNS]
    for c in MANIFEST_COLUMNS:
        if c not in df.columns:
            df[c] = ""
    return df[MANIFEST_COLUMNS + extras]
