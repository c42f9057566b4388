"""What to extract: plain files and folders, a CSV list, or a standard dataset layout.

Every source becomes a list of `VideoInput` rows carrying the manifest's metadata (label, group,
method, dataset, split) and a unique, filesystem-safe `video_id` (relative to the input root, so
two `a.mp4` in different folders stay apart).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from dfdetect import console
from dfdetect.errors import DfdetectError
from dfdetect.manifest import parse_label, safe_video_id
from dfdetect.video_io import VIDEO_EXTENSIONS


@dataclass
class VideoInput:
    """One video to extract and the manifest metadata that travels with it."""

    path: Path
    video_id: str
    label: int | None = None
    group: str = ""
    method: str = ""
    dataset: str = ""
    split: str = ""
    #: where the input came from, for messages: "list.csv:3" or the folder/file argument
    origin: str = field(default="", compare=False)
    #: a re-encoded view of another input (`extraction.views`): its name (crf40) and the original's id
    view: str = ""
    source_id: str = ""

    def row(self) -> dict[str, str]:
        return {
            "video_id": self.video_id,
            "path": str(self.path),
            "label": "" if self.label is None else str(self.label),
            "group": self.group or self.video_id,
            "method": self.method,
            "dataset": self.dataset,
            "split": self.split,
            **({"view": self.view, "source_id": self.source_id} if self.view else {}),
        }


def is_video_file(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS


def collect_videos(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files as given, and video files found recursively in folders, in a stable order.

    A path that does not exist is kept (it becomes an error row, so a batch reports it and goes on).
    Hidden files and our own temporary files are skipped inside folders.
    """
    out: list[Path] = []
    seen: set[Path] = set()
    for raw in paths:
        p = Path(raw)
        if _is_dir(p):
            found = sorted(
                (f for f in p.rglob("*") if f.is_file() and is_video_file(f)
                 and not any(part.startswith(".") for part in f.relative_to(p).parts)),
                key=lambda f: f.relative_to(p).as_posix(),
            )
        else:
            found = [p]
        for f in found:
            if f not in seen:
                seen.add(f)
                out.append(f)
    return out


def uniquify(inputs: list[VideoInput]) -> list[VideoInput]:
    """Make video ids unique within a run: a repeated id gets a short hash of its full path."""
    taken: set[str] = set()
    for item in inputs:
        vid = item.video_id
        if vid in taken:
            digest = hashlib.sha1(str(item.path).encode("utf-8", "surrogateescape")).hexdigest()[:8]
            vid = f"{vid}-{digest}"
            n = 2
            while vid in taken:
                vid = f"{item.video_id}-{digest}-{n}"
                n += 1
            item.video_id = vid
        taken.add(vid)
    return inputs


def _is_dir(p: Path) -> bool:
    try:
        return p.is_dir()
    except OSError:  # a name too long for the file system: kept, so it becomes an error row
        return False


def inputs_from_paths(paths: Iterable[str | os.PathLike[str]], label: str | int | None = None) -> list[VideoInput]:
    """Files and folders from the command line; `label` (real/fake) applies to all of them.

    Ids are relative to the folder given (or the file's own folder); each video is its own group.
    """
    label_value = parse_label(label) if label is not None else None
    items: list[VideoInput] = []
    for raw in paths:
        # Absolute, so that a re-run from another working folder still finds the file in DATA.
        p = Path(os.path.abspath(raw))
        root = p if _is_dir(p) else p.parent
        found = collect_videos([p])
        if _is_dir(p) and not found:
            console.warn(f"{raw}: no video files in this folder ({', '.join(sorted(VIDEO_EXTENSIONS))})")
        for f in found:
            items.append(VideoInput(f, safe_video_id(f, root), label_value, origin=str(raw)))
    return uniquify(items)


def inputs_from_csv(csv_path: str | os.PathLike[str], label: str | int | None = None) -> list[VideoInput]:
    """A CSV list with columns `path,label[,group,method,dataset,split]`.

    Relative paths resolve against the CSV's folder. Every row needs a label (real/fake/0/1, or
    `unknown` for a prediction-only list): an empty cell is an error naming its line. Without a
    label column, `label` (`--label`) labels every row; next to a label column it is not used, and
    a warning says so.
    """
    import pandas as pd

    p = Path(csv_path)
    if not p.is_file():
        raise DfdetectError(f"{p}: no such CSV file; pass a CSV with columns path,label[,group,method]")
    try:
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DfdetectError(f"{p}: not a readable CSV ({str(exc).splitlines()[0]})") from None
    if "path" not in df.columns:
        raise DfdetectError(f"{p}: no 'path' column; a video list needs columns path,label[,group,method]")
    has_labels = "label" in df.columns
    if not has_labels and label is None:
        raise DfdetectError(
            f"{p}: no 'label' column; add one (real, fake, or unknown for videos to predict) or pass --label"
        )
    if has_labels and label is not None:
        console.warn(f"--label {label} is not used for {p}: it has a label column, whose labels are used")
    default = parse_label(label) if label is not None and not has_labels else None
    root = p.resolve().parent
    items = []
    for line, row in enumerate(df.to_dict("records"), start=2):
        raw = str(row["path"]).strip()
        if not raw:
            raise DfdetectError(f"{p}:{line}: empty path")
        f = Path(raw)
        f = f if f.is_absolute() else root / f
        value = default
        if has_labels:
            cell = str(row["label"]).strip()
            if not cell:
                raise DfdetectError(
                    f"{p}:{line}: empty label for {raw}; write real or fake (or unknown for a video to predict)"
                )
            try:
                value = parse_label(cell)
            except DfdetectError as exc:
                raise DfdetectError(f"{p}:{line}: {exc}") from None
        items.append(VideoInput(
            f, safe_video_id(f, root), value,
            group=str(row.get("group", "")).strip(), method=str(row.get("method", "")).strip(),
            dataset=str(row.get("dataset", "")).strip(), split=str(row.get("split", "")).strip(),
            origin=f"{p}:{line}",
        ))
    return uniquify(items)


def path_key(path: str | os.PathLike[str]) -> str:
    """One spelling per file: absolute, symlinks and '..' resolved."""
    return os.path.realpath(os.path.abspath(path))


def drop_duplicates(items: list[VideoInput]) -> list[VideoInput]:
    """One input per file. The same file listed twice with the same label is kept once (a
    warning); with two different labels it is an error naming both places."""
    first: dict[str, VideoInput] = {}
    out: list[VideoInput] = []
    repeated: list[str] = []
    for item in items:
        key = path_key(item.path)
        seen = first.get(key)
        if seen is None:
            first[key] = item
            out.append(item)
        elif seen.label != item.label:
            names = {None: "no label", 0: "real", 1: "fake"}
            raise DfdetectError(
                f"{item.path} is listed as {names[seen.label]} ({seen.origin or 'first'}) and as "
                f"{names[item.label]} ({item.origin or 'again'}); keep one label per video"
            )
        else:
            repeated.append(f"{item.origin or item.path} (same as {seen.origin or seen.path})")
    if repeated:
        console.warn(
            f"{len(repeated)} input(s) listed twice, extracted once: {'; '.join(repeated[:3])}"
            + (" ..." if len(repeated) > 3 else "")
        )
    return out


def settle_ids(items: list[VideoInput], known: dict[str, dict[str, str]]) -> list[VideoInput]:
    """Ids that stay unique across runs into one DATA folder.

    A file that DATA already holds keeps the id it has there (so a re-run is recognised as
    finished, whichever folder was passed). A new file whose id is taken by another file gets a
    short hash of its path (`clip0` from videos/real, then `clip0-1a2b3c4d` from videos/fake).
    """
    # views share their original's path; their ids follow the original's (extraction.views)
    by_path = {path_key(r.get("path", "")): vid for vid, r in known.items() if r.get("path") and not r.get("view")}
    taken = set(known)
    for item in items:
        old = by_path.get(path_key(item.path))
        if old is not None:
            item.video_id = old
            continue
        if item.video_id in taken:
            digest = hashlib.sha1(path_key(item.path).encode("utf-8", "surrogateescape")).hexdigest()[:8]
            vid, n = f"{item.video_id}-{digest}", 2
            while vid in taken:
                vid, n = f"{item.video_id}-{digest}-{n}", n + 1
            item.video_id = vid
        taken.add(item.video_id)
    return items
