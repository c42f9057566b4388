"""The two layouts of a SPLITS folder, and keeping one folder to one of them.

A plain split writes SPLITS/{train,val,test,test_*}.csv and splits.json; `split --folds K` writes
SPLITS/fold_<i>/ and folds.json. A folder holding both is ambiguous (`benchmark --data` would pick
the folds and ignore the plain CSVs), so each writer first removes what the other layout wrote,
touching only the files its summary JSON lists, and says so.
"""

from __future__ import annotations

import json
from pathlib import Path

SUMMARY_NAME = "splits.json"
FOLDS_NAME = "folds.json"
PLAIN_CSVS = ("train.csv", "val.csv", "test.csv")


def is_split_csv(name: object) -> bool:
    """A file name `split` writes in a SPLITS folder (and nothing with a folder part)."""
    return isinstance(name, str) and Path(name).name == name and (
        name in PLAIN_CSVS or (name.startswith("test_") and name.endswith(".csv")))


def remove_stale_files(out: Path, keep: set[str]) -> None:
    """Delete CSVs a previous run listed in splits.json and this run does not write (e.g. _r3 after
    --repeats 4 -> 2), so the folder never mixes two runs. Only names `split` writes are touched."""
    try:
        previous = json.loads((out / SUMMARY_NAME).read_text(encoding="utf-8"))
        names = [f["file"] for f in previous.get("files", [])]
    except (OSError, ValueError, TypeError, KeyError):
        return
    for name in names:
        if is_split_csv(name) and name not in keep:
            (out / name).unlink(missing_ok=True)


def remove_stale_folds(out: Path, k: int) -> None:
    """Fold folders a previous run listed in folds.json beyond the first `k` lose the files
    `split --folds` wrote (and the folder when that leaves it empty), so no stale fold is ever read."""
    try:
        previous = json.loads((out / FOLDS_NAME).read_text(encoding="utf-8"))
        dirs = [f["dir"] for f in previous.get("folds", [])]
    except (OSError, ValueError, TypeError, KeyError):
        return
    keep = {f"fold_{i}" for i in range(k)}
    for name in dirs:
        if not isinstance(name, str) or name in keep or not name.startswith("fold_") or Path(name).name != name:
            continue
        folder = out / name
        for file in (*PLAIN_CSVS, SUMMARY_NAME):
            (folder / file).unlink(missing_ok=True)
        try:
            folder.rmdir()
        except OSError:
            pass  # the user put something else there; leave it


def clear_folds_layout(out: Path) -> str | None:
    """Before a plain split: remove the folds a `split --folds` run left in `out`; the note, or None."""
    if not (out / FOLDS_NAME).is_file():
        return None
    remove_stale_folds(out, 0)
    (out / FOLDS_NAME).unlink(missing_ok=True)
    return (f"{out} held group folds from `split --folds` (fold_*/, {FOLDS_NAME}); removed them so that "
            "the folder holds one layout")


def clear_plain_layout(out: Path) -> str | None:
    """Before `split --folds`: remove the plain split's CSVs and splits.json from `out`; the note, or None."""
    if not (out / SUMMARY_NAME).is_file():
        return None
    remove_stale_files(out, set())
    (out / SUMMARY_NAME).unlink(missing_ok=True)
    return (f"{out} held a plain split (train/val/test CSVs, {SUMMARY_NAME}); removed them so that the "
            "folder holds one layout")
