"""Reading the manifests that `split` takes: globs, parts, validation and the faces_file path rule."""

from __future__ import annotations

import glob
import os
import posixpath
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from dfdetect.errors import DfdetectError
from dfdetect.manifest import MANIFEST_COLUMNS, STATUS_OK, read_manifest

if TYPE_CHECKING:
    import pandas as pd

# `split` (official split) and the rest of the contract columns are optional: missing ones are
# filled empty. These are the ones whose absence would silently change the result.
REQUIRED_COLUMNS = ["video_id", "label", "group", "faces_file", "status"]
SPLIT_ALIASES = {
    "train": "train", "training": "train",
    "val": "val", "valid": "val", "validation": "val", "dev": "val",
    "test": "test", "testing": "test",
}
_GLOB_CHARS = set("*?[")


@dataclass
class LoadedManifests:
    """The usable rows of every manifest, combined, with faces_file rewritten for the output folder."""

    rows: "pd.DataFrame"
    paths: list[Path]
    n_rows: int = 0
    excluded: Counter = field(default_factory=Counter)
    #: re-encoded views (`extract --reencode`): they follow their original into train or val
    views: "pd.DataFrame | None" = None

    def names(self) -> str:
        """The manifests as one string for error messages."""
        shown = ", ".join(str(p) for p in self.paths[:3])
        return shown + (f" (+{len(self.paths) - 3} more)" if len(self.paths) > 3 else "")


def expand_manifest_args(args: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """Paths, globs (quoted, so the shell leaves them to us) and DATA folders -> manifest files.

    A folder stands for its manifest.csv, or its manifest.part-*.csv when sharded extraction left
    only parts. Order is stable and duplicates are dropped.
    """
    if not args:
        raise DfdetectError("no manifest given; pass DATA/manifest.csv written by `dfdetect extract`")
    found: list[Path] = []
    for arg in args:
        text = str(arg)
        if _GLOB_CHARS & set(text):
            matches = sorted(glob.glob(text))
            if not matches:
                raise DfdetectError(f"{text}: no file matches this pattern; check the path of the manifest parts")
            found.extend(Path(m) for m in matches)
        elif Path(text).is_dir():
            folder = Path(text)
            if (folder / "manifest.csv").is_file():
                found.append(folder / "manifest.csv")
            else:
                parts = sorted(folder.glob("manifest.part-*.csv"))
                if not parts:
                    raise DfdetectError(
                        f"{folder}: no manifest.csv or manifest.part-*.csv here; pass the --out folder of `dfdetect extract`"
                    )
                found.extend(parts)
        else:
            found.append(Path(text))
    unique: list[Path] = []
    seen: set[str] = set()
    for p in found:
        key = os.path.realpath(p)
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def _normalise_labels(df: "pd.DataFrame", path: Path) -> "pd.Series":
    """'0'/'1' (or '0.0'/'1.0' from a float column) -> 0/1; anything else is a one-line error."""
    text = df["label"].astype(str).str.strip()
    mapped = text.map({"0": 0, "1": 1, "0.0": 0, "1.0": 1})
    bad = mapped.isna()
    if bad.any():
        values = sorted(set(text[bad]))
        shown = ", ".join(repr(v) for v in values[:4]) + (" ..." if len(values) > 4 else "")
        first = df.loc[bad, "video_id"].iloc[0]
        raise DfdetectError(
            f"{path}: label must be 0 (real) or 1 (fake), found {shown} in {int(bad.sum())} row(s) "
            f"(first: video_id {first}); fix the label column"
        )
    return mapped.astype(int)


def _normalise_splits(df: "pd.DataFrame", path: Path) -> "pd.Series":
    text = df["split"].astype(str).str.strip().str.lower()
    mapped = text.map(lambda v: "" if v in ("", "nan", "none") else SPLIT_ALIASES.get(v))
    bad = mapped.isna()
    if bad.any():
        values = sorted(set(df.loc[bad, "split"].astype(str)))
        raise DfdetectError(
            f"{path}: split must be train, val, test or empty, found {', '.join(repr(v) for v in values[:4])}; "
            "fix the split column or pass --resplit"
        )
    return mapped


def relative_posix(target: Path, start: Path) -> str | None:
    """target relative to start with '/' separators, or None when there is no relative path
    (different drives on Windows)."""
    try:
        return Path(os.path.relpath(target.resolve(), start.resolve())).as_posix()
    except ValueError:
        return None


def _rewrite_faces_files(df: "pd.DataFrame", manifest: Path, out_dir: Path) -> list[str]:
    """The path rule (docs/formats.md): relative faces_file resolves from the CSV's folder. Rebase onto out_dir.

    Also checks that every stack exists, so a moved manifest fails here and not mid-training.
    """
    manifest_dir = manifest.resolve().parent
    prefix = relative_posix(manifest_dir, out_dir)
    faces = df["faces_file"].astype(str).str.strip()
    empty = faces == ""
    if empty.any():
        first = df.loc[empty, "video_id"].iloc[0]
        raise DfdetectError(
            f"{manifest}: {int(empty.sum())} row(s) with status ok have no faces_file (first: video_id {first}); "
            "re-run `dfdetect extract` on the same --out"
        )
    rewritten: list[str] = []
    missing: list[str] = []
    for value in faces:
        if os.path.isabs(value):
            absolute, new = value, value
        else:
            absolute = os.path.join(manifest_dir, value)
            new = absolute if prefix is None else posixpath.normpath(posixpath.join(prefix, Path(value).as_posix()))
        if not os.path.exists(absolute):
            missing.append(value)
        rewritten.append(new)
    if missing:
        raise DfdetectError(
            f"{manifest}: {len(missing)} face stack(s) not found (first: {missing[0]}, resolved against "
            f"{manifest_dir}); keep faces/ beside the manifest or re-run `dfdetect extract`"
        )
    return rewritten


def _rebase(value: str, manifest: Path, out_dir: Path) -> str:
    """A path relative to the manifest's folder, made relative to out_dir (empty stays empty)."""
    if not value or os.path.isabs(value):
        return value
    absolute = os.path.join(manifest.resolve().parent, value)
    prefix = relative_posix(manifest.resolve().parent, out_dir)
    return absolute if prefix is None else posixpath.normpath(posixpath.join(prefix, Path(value).as_posix()))


def load_manifests(args: Sequence[str | os.PathLike[str]], out_dir: Path) -> LoadedManifests:
    """Read, validate and combine manifests; rows with status other than ok are counted, not kept."""
    import pandas as pd

    paths = expand_manifest_args(args)
    frames: list[pd.DataFrame] = []
    excluded: Counter = Counter()
    n_rows = 0
    owner: dict[str, Path] = {}
    for path in paths:
        df = read_manifest(path, required=REQUIRED_COLUMNS)
        n_rows += len(df)
        for column in MANIFEST_COLUMNS:  # optional contract columns (split, method, ...) default to empty
            if column not in df.columns:
                df[column] = ""
        status = df["status"].astype(str).str.strip()
        for value, count in status[status != STATUS_OK].value_counts().sort_index().items():
            excluded[value or "no status"] += int(count)
        df = df[status == STATUS_OK].copy()
        if df.empty:
            frames.append(df)
            continue
        df["video_id"] = df["video_id"].astype(str).str.strip()
        dup = df["video_id"][df["video_id"].duplicated()].unique().tolist()
        if dup:
            raise DfdetectError(
                f"{path}: duplicate video_id {', '.join(dup[:5])}{' ...' if len(dup) > 5 else ''}; "
                "each video must appear once (re-run `dfdetect extract` into a fresh --out)"
            )
        video_ids = df["video_id"].tolist()
        clashes = sorted(set(video_ids) & owner.keys())
        if clashes:
            raise DfdetectError(
                f"duplicate video_id {', '.join(clashes[:5])}{' ...' if len(clashes) > 5 else ''} in both "
                f"{owner[clashes[0]]} and {path}; pass either the merged manifest.csv or its parts, not both"
            )
        owner.update(dict.fromkeys(video_ids, path))
        df["label"] = _normalise_labels(df, path)
        df["split"] = _normalise_splits(df, path)
        # A video without a group is its own group (docs/formats.md: plain folders).
        group = df["group"].astype(str).str.strip()
        df["group"] = group.where(group != "", df["video_id"])
        df["faces_file"] = _rewrite_faces_files(df, path, out_dir)
        if "sidecar" in df.columns:  # the per-frame detail file follows the same path rule
            df["sidecar"] = [_rebase(str(v).strip(), path, out_dir) for v in df["sidecar"]]
        frames.append(df)
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    rows, views = _separate_views(rows, excluded)
    if len(rows):
        _refuse_same_source(rows)
        # Row order in a manifest depends on how extraction was parallelised; sorting makes the
        # same set of videos and --seed give the same splits whatever order they were written in.
        rows = rows.sort_values("video_id", kind="stable").reset_index(drop=True)
    loaded = LoadedManifests(
        rows=rows,
        paths=paths, n_rows=n_rows, excluded=excluded, views=views,
    )
    _check_usable(loaded)
    return loaded


def _separate_views(rows: "pd.DataFrame", excluded: Counter) -> tuple["pd.DataFrame", "pd.DataFrame | None"]:
    """(originals, views): a view row names its original in `source_id`; views whose original is
    not among the usable rows are counted as excluded. A view always takes its original's group."""
    if rows.empty or "source_id" not in rows.columns:
        return rows, None
    source = rows["source_id"].fillna("").astype(str).str.strip()
    originals, views = rows[source == ""].copy(), rows[source != ""].copy()
    if views.empty:
        return originals, None
    group_of = originals.set_index("video_id")["group"]
    known = views["source_id"].isin(group_of.index)
    if (~known).any():
        excluded["view of an unusable video"] += int((~known).sum())
    views = views[known].copy()
    views["group"] = views["source_id"].map(group_of)
    return originals, views.sort_values("video_id", kind="stable").reset_index(drop=True)


def _refuse_same_source(rows: "pd.DataFrame") -> None:
    """Two rows made from one video file would let that video land in train and in test."""
    paths = rows["path"].astype(str).str.strip()
    key = paths.map(lambda p: os.path.normpath(p) if p else "")
    dup = (key != "") & key.duplicated(keep=False)
    if dup.any():
        first = key[dup].iloc[0]
        ids = rows.loc[dup & (key == first), "video_id"].tolist()
        n = int(key[dup].nunique())
        raise DfdetectError(
            f"{paths[dup].iloc[0]} is the source of {len(ids)} rows (video_id {', '.join(ids[:4])})"
            + (f", and {n - 1} more file(s) appear twice" if n > 1 else "")
            + "; one video must be one row: drop the duplicates from the manifest or re-extract into a fresh --out"
        )


def _check_usable(loaded: LoadedManifests) -> None:
    rows = loaded.rows
    where = loaded.names()
    if loaded.n_rows == 0:
        raise DfdetectError(f"{where}: the manifest has no videos; run `dfdetect extract` on a folder of videos first")
    if rows.empty:
        detail = ", ".join(f"{k} {v}" for k, v in sorted(loaded.excluded.items()))
        raise DfdetectError(
            f"{where}: no video has status ok ({detail}); fix extraction (see the error column) and re-run it"
        )
    classes = set(rows["label"].tolist())
    if len(classes) < 2:
        have = "real (label 0)" if classes == {0} else "fake (label 1)"
        need = "fake (label 1)" if classes == {0} else "real (label 0)"
        raise DfdetectError(
            f"{where}: every usable video is {have}; add {need} videos (another manifest can be passed too)"
        )
