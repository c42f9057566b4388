"""What to extract: plain files and folders, a CSV list, or a standard dataset layout.

Every source becomes a list of `VideoInput` rows carrying the manifest's metadata (label, group,
method, dataset, split) and a unique, filesystem-safe `video_id` (relative to the input root, so
two `a.mp4` in different folders stay apart).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from dfdetect.errors import DfdetectError, UsageError
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

    def row(self) -> dict[str, str]:
        return {
            "video_id": self.video_id,
            "path": str(self.path),
            "label": "" if self.label is None else str(self.label),
            "group": self.group or self.video_id,
            "method": self.method,
            "dataset": self.dataset,
            "split": self.split,
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
        p = Path(raw)
        root = p if _is_dir(p) else p.parent
        for f in collect_videos([p]):
            items.append(VideoInput(f, safe_video_id(f, root), label_value))
    return uniquify(items)


def inputs_from_csv(csv_path: str | os.PathLike[str], label: str | int | None = None) -> list[VideoInput]:
    """A CSV list with columns `path,label[,group,method,dataset,split]`.

    Relative paths resolve against the CSV's folder. `label` is real/fake/0/1 or empty; `--label`
    fills only the empty cells.
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
    default = parse_label(label) if label is not None else None
    root = p.resolve().parent
    items = []
    for line, row in enumerate(df.to_dict("records"), start=2):
        raw = str(row["path"]).strip()
        if not raw:
            raise DfdetectError(f"{p}:{line}: empty path")
        f = Path(raw)
        f = f if f.is_absolute() else root / f
        try:
            value = parse_label(row.get("label", ""))
        except DfdetectError as exc:
            raise DfdetectError(f"{p}:{line}: {exc}") from None
        items.append(VideoInput(
            f, safe_video_id(f, root), default if value is None else value,
            group=str(row.get("group", "")).strip(), method=str(row.get("method", "")).strip(),
            dataset=str(row.get("dataset", "")).strip(), split=str(row.get("split", "")).strip(),
        ))
    return uniquify(items)


def gather_inputs(
    paths: Iterable[str | os.PathLike[str]] = (),
    *,
    csvs: Iterable[str | os.PathLike[str]] = (),
    dataset: str | None = None,
    compression: str = "c23",
    label: str | None = None,
) -> list[VideoInput]:
    """Everything `dfdetect extract` was asked for, with unique ids across the sources."""
    from dfdetect.extraction.datasets import DATASETS, dataset_inputs

    paths = list(paths)
    csvs = list(csvs)
    if dataset is None:
        # A CSV named as an input is a video list (`dfdetect extract videos.csv`), never a video.
        csvs += [p for p in paths if str(p).lower().endswith(".csv")]
        paths = [p for p in paths if not str(p).lower().endswith(".csv")]
    items: list[VideoInput] = []
    if dataset is not None:
        if dataset not in DATASETS:
            raise UsageError(f"unknown --dataset '{dataset}' (choose from {', '.join(DATASETS)})")
        if not paths:
            raise UsageError(f"--dataset {dataset} needs the dataset's root folder as INPUT")
        if label is not None:
            raise UsageError("--label does not apply to --dataset (labels come from the layout)")
        for root in paths:
            items += dataset_inputs(dataset, Path(root), compression=compression)
    else:
        items += inputs_from_paths(paths, label)
    for csv_path in csvs:
        items += inputs_from_csv(csv_path, label)
    return uniquify(items)
