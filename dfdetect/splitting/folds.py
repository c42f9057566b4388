"""`make_folds`: K identity-safe group folds for cross-validation on small data (`split --folds K`).

Every video is tested exactly once: fold i tests the videos of its groups and trains on the
others, with a validation set carved from the training groups (never from test, never splitting
a group). Folds are drawn by sklearn's StratifiedGroupKFold over videos, stratified by class and,
where each manipulation has enough videos, by manipulation method, so every fold sees every
method. Official splits are ignored: k-fold uses all videos.

    SPLITS/folds.json                     what was written (seed, options, counts per fold)
    SPLITS/fold_<i>/train.csv val.csv test.csv splits.json

faces_file is rewritten relative to the fold folder (the path rule, docs/formats.md); all fold folders are
siblings, so one rewrite fits every fold.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings as warnings_module
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from dfdetect.errors import DfdetectError, UsageError
from dfdetect.manifest import write_csv_atomic
from dfdetect.splitting.assign import groups_for_fraction, group_table, stratified_group_split
from dfdetect.splitting.core import SplitFile, SplitSummary, attach_views, describe_split, split_rng, split_frame_for_csv
from dfdetect.splitting.layout import FOLDS_NAME, SUMMARY_NAME, clear_plain_layout, remove_stale_files, remove_stale_folds
from dfdetect.splitting.inputs import load_manifests, relative_posix

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

_STREAM_VAL = 3  # an rng stream of its own (core.py uses 0-2)


def fold_dir_name(i: int) -> str:
    return f"fold_{i}"


@dataclass
class FoldsSummary:
    """What `make_folds` wrote; `to_dict()` is the content of folds.json."""

    out_dir: Path
    folds: list[list[SplitFile]]  # per fold: train, val (if any), test
    seed: int
    options: dict[str, Any]
    manifests: list[str]
    n_rows: int
    n_used: int
    excluded: dict[str, int]
    warnings: list[str] = field(default_factory=list)

    @property
    def fold_dirs(self) -> list[Path]:
        return [self.out_dir / fold_dir_name(i) for i in range(len(self.folds))]

    @property
    def table(self) -> list[dict[str, Any]]:
        """One row per fold: real/fake counts of train, val and test, and test groups."""
        rows = []
        for i, files in enumerate(self.folds):
            row: dict[str, Any] = {"fold": fold_dir_name(i)}
            for f in files:
                row[f.set] = f"{f.n_real}/{f.n_fake}"
                if f.set == "test":
                    row["test_groups"] = f.n_groups
            rows.append(row)
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "folds",
            "k": len(self.folds),
            "seed": self.seed,
            "options": self.options,
            "manifests": self.manifests,
            "videos": {"rows": self.n_rows, "used": self.n_used, "excluded": self.excluded},
            "folds": [
                {"dir": fold_dir_name(i), "files": [asdict(f) for f in files]} for i, files in enumerate(self.folds)
            ],
            "warnings": self.warnings,
        }


def _strata(rows: "pd.DataFrame", k: int) -> "np.ndarray":
    """Per video: 'real', or its manipulation method when that method has at least k videos
    (else plain 'fake'), so StratifiedGroupKFold can spread every method over the folds."""
    import numpy as np

    method = rows["method"].astype(str).str.strip()
    labels = np.where(rows["label"].to_numpy() == 1, "fake:" + method, "real")
    counts = dict(zip(*np.unique(labels, return_counts=True)))
    return np.array([y if y == "real" or counts[y] >= k else "fake" for y in labels])


def assign_folds(rows: "pd.DataFrame", k: int, seed: int) -> "np.ndarray":
    """Fold number (0..k-1) of every row; rows of one group share a fold."""
    import numpy as np
    from sklearn.model_selection import StratifiedGroupKFold

    n_groups = rows["group"].nunique()
    if n_groups < k:  # a K that does not fit the data is a bad option value, like --folds 1 (exit 2)
        raise UsageError(
            f"--folds {k}: only {n_groups} identity group(s); each fold needs at least one, so use --folds {max(2, n_groups)} "
            "or fewer, or add videos"
        )
    fold = np.full(len(rows), -1, dtype=np.int64)
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    with warnings_module.catch_warnings():
        # "The least populated class has only n members": expected on small data, handled by _strata.
        warnings_module.simplefilter("ignore", UserWarning)
        for i, (_, test_idx) in enumerate(splitter.split(np.zeros(len(rows)), _strata(rows, k), rows["group"].to_numpy())):
            fold[test_idx] = i
    return fold


def make_folds(
    manifests: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    folds: int = 5,
    val_size: float = 0.1,
    seed: int = 0,
) -> FoldsSummary:
    """Write K group folds (train/val/test CSVs per fold folder) and folds.json; return the summary.

    `val_size` is the fraction of a fold's training groups that become its val set (0: no val).
    Same manifests and seed give byte-identical files."""
    if folds < 2:
        raise UsageError(f"--folds {folds}: need at least 2 folds")
    if not 0 <= val_size < 1:
        raise UsageError(f"--val-size {val_size}: must be a fraction of groups in [0, 1), e.g. 0.1")
    if seed < 0:
        raise UsageError(f"--seed {seed}: must be a non-negative integer")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DfdetectError(f"{out}: exists and is not a folder; pass a folder for --out")
    # Every fold folder sits at out/fold_<i>, so faces_file relative to fold_0 holds for all.
    loaded = load_manifests(manifests, out / fold_dir_name(0))
    rows = loaded.rows
    fold_of = assign_folds(rows, folds, seed)
    notes: list[str] = []
    if (rows["split"].astype(str) != "").any():
        notes.append("official splits are ignored with --folds: every video is tested once")

    written: list[list[tuple[SplitFile, pd.DataFrame]]] = []
    for i in range(folds):
        test, rest = rows[fold_of == i], rows[fold_of != i]
        train, val = _carve_val(rest, val_size, seed, i)
        fold = [attach_views(describe_split(train, "train.csv", "train"), train, loaded.views)]
        if val is not None:
            fold.append(attach_views(describe_split(val, "val.csv", "val"), val, loaded.views))
        fold.append((describe_split(test, "test.csv", "test"), test))
        for info, _ in fold:
            if info.n_real == 0 or info.n_fake == 0:
                notes.append(f"{fold_dir_name(i)}/{info.file} holds only {'fakes' if info.n_real == 0 else 'reals'}"
                             + ("; its AUC is undefined, the pooled out-of-fold AUC is not" if info.set == "test" else ""))
        written.append(fold)

    summary = FoldsSummary(
        out_dir=out, folds=[[f for f, _ in fold] for fold in written], seed=seed,
        options={"folds": folds, "val_size": val_size},
        manifests=[relative_posix(Path(p), out) or str(Path(p).resolve()) for p in loaded.paths],
        n_rows=loaded.n_rows, n_used=len(rows), excluded=dict(sorted(loaded.excluded.items())), warnings=notes,
    )
    _write(out, written, summary)
    return summary


def _carve_val(rest: "pd.DataFrame", val_size: float, seed: int, fold: int) -> tuple["pd.DataFrame", "pd.DataFrame | None"]:
    """Split a fold's training videos into train and val by group, both classes in each."""
    if val_size == 0:
        return rest, None
    groups = group_table(rest)
    n_val = groups_for_fraction(val_size, len(groups))
    if len(groups) - n_val < 1:
        raise DfdetectError(
            f"{fold_dir_name(fold)}: only {len(groups)} training group(s), too few to carve a val set; "
            "pass --val-size 0 or fewer --folds"
        )
    assigned = stratified_group_split(groups, {"train": len(groups) - n_val, "val": n_val, "test": 0},
                                      split_rng(seed, _STREAM_VAL, fold))
    in_val = rest["group"].map(assigned) == "val"
    return rest[~in_val], rest[in_val]


def _write(out: Path, written: list[list[tuple[SplitFile, "pd.DataFrame"]]], summary: FoldsSummary) -> None:
    out.mkdir(parents=True, exist_ok=True)
    note = clear_plain_layout(out)
    if note:
        summary.warnings.append(note)
    remove_stale_folds(out, len(written))
    for i, fold in enumerate(written):
        folder = out / fold_dir_name(i)
        folder.mkdir(exist_ok=True)
        remove_stale_files(folder, {f.file for f, _ in fold})  # e.g. val.csv after --val-size 0
        for info, df in fold:
            write_csv_atomic(split_frame_for_csv(df, info.set), folder / info.file)
        # Each fold folder is a SPLITS folder of its own, with the usual splits.json.
        per_fold = SplitSummary(
            out_dir=folder, files=[f for f, _ in fold], seed=summary.seed,
            options={**summary.options, "fold": i}, manifests=[f"../{m}" if not os.path.isabs(m) else m for m in summary.manifests],
            n_rows=summary.n_rows, n_used=sum(f.n_real + f.n_fake for f, _ in fold), excluded=summary.excluded,
            sources={f.set: f"fold {i} of {len(written)}" for f, _ in fold},
        )
        _write_json(folder / SUMMARY_NAME, per_fold.to_dict())
    _write_json(out / FOLDS_NAME, summary.to_dict())


def _write_json(path: Path, data: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def read_folds(folder: str | os.PathLike[str]) -> list[Path] | None:
    """The fold folders of a SPLITS folder written by `split --folds`, in order; None when the
    folder holds no folds.json (a plain split)."""
    path = Path(folder) / FOLDS_NAME
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        dirs = [Path(folder) / f["dir"] for f in data["folds"]]
    except (ValueError, TypeError, KeyError) as exc:
        raise DfdetectError(f"{path}: not a folds.json written by `dfdetect split --folds` ({exc})") from None
    missing = [d for d in dirs if not (d / "test.csv").is_file()]
    if missing:
        raise DfdetectError(f"{missing[0]}: test.csv is missing; re-run `dfdetect split --folds`")
    return dirs
