"""`--shard i/n|auto` for `extract` and `predict`: one share of a batch job per array task.

Shards are numbered 1..n. A video's shard is a stable hash of its key (the video id in
`extract`, the path as listed in `predict`), the same on every machine, so n independent jobs
given the same inputs split them without talking to each other.

`auto` reads the array index and size from the scheduler's environment:
- Slurm job arrays: SLURM_ARRAY_TASK_ID within SLURM_ARRAY_TASK_MIN..MAX (with
  SLURM_ARRAY_TASK_STEP), checked against SLURM_ARRAY_TASK_COUNT; `--array=0-7` and `1-8` both work.
- Grid Engine (SGE/UGE/OGE) task arrays: SGE_TASK_ID within SGE_TASK_FIRST..SGE_TASK_LAST
  (SGE_TASK_STEPSIZE).
- Kubernetes indexed Jobs: JOB_COMPLETION_INDEX (0-based), with the count in DFDETECT_SHARD_COUNT
  (Kubernetes does not put `.spec.completions` into the environment: set it to that value).
- AWS Batch array jobs: AWS_BATCH_JOB_ARRAY_INDEX (0-based), with DFDETECT_SHARD_COUNT.
- Anything else: DFDETECT_SHARD_INDEX (0-based) with DFDETECT_SHARD_COUNT.
"""

from __future__ import annotations

import hashlib
import os
from typing import Mapping

from dfdetect.errors import UsageError

COUNT_ENV = "DFDETECT_SHARD_COUNT"
INDEX_ENV = "DFDETECT_SHARD_INDEX"
_HINT = ("run inside a Slurm or Grid Engine job array, or set JOB_COMPLETION_INDEX (Kubernetes indexed "
         f"Job), AWS_BATCH_JOB_ARRAY_INDEX or {INDEX_ENV} together with {COUNT_ENV}; or pass --shard i/n")


def parse_shard(text: str | None, environ: Mapping[str, str] | None = None) -> tuple[int, int] | None:
    """'2/4' -> (2, 4); 'auto' -> the job array's (index, size); None or '' -> None (no sharding)."""
    if text is None or str(text).strip() == "":
        return None
    text = str(text).strip()
    if text.lower() == "auto":
        return shard_from_env(os.environ if environ is None else environ)
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise UsageError(f"--shard must look like i/n (e.g. 1/4) or auto, not '{text}'") from None
    return _checked(i, n, f"--shard {text}")


def _checked(i: int, n: int, where: str) -> tuple[int, int]:
    if n < 1:
        raise UsageError(f"{where}: the number of shards n must be at least 1, not {n}")
    if not 1 <= i <= n:
        raise UsageError(f"{where}: shards are numbered 1..n, so i must be between 1 and {n}, not {i}")
    return i, n


def _int(environ: Mapping[str, str], name: str) -> int:
    try:
        return int(str(environ[name]).strip())
    except ValueError:
        raise UsageError(f"--shard auto: ${name}='{environ[name]}' is not a whole number") from None


def _range_shard(environ: Mapping[str, str], prefix: str, idx: str, first: str, last: str, step: str,
                 count: str | None) -> tuple[int, int]:
    task = _int(environ, idx)
    lo = _int(environ, first) if first in environ else None
    hi = _int(environ, last) if last in environ else None
    if lo is None or hi is None:
        raise UsageError(f"--shard auto: ${idx} is set but ${first}/${last} are not; pass --shard i/n")
    stride = _int(environ, step) if step in environ else 1
    if stride < 1:  # a step of 0 or less is no array the scheduler can run: a broken environment
        raise UsageError(f"--shard auto: ${step}={stride}; a {prefix} array's step must be at least 1")
    n = (hi - lo) // stride + 1
    if (task - lo) % stride or count and count in environ and _int(environ, count) != n:
        # e.g. --array=1,4,9: the ids are not a range, so the position of this task is unknown
        raise UsageError(f"--shard auto: the {prefix} array is not an evenly spaced range "
                         f"({first}={lo}, {last}={hi}, task {task}); use --array=A-B or pass --shard i/n")
    return _checked((task - lo) // stride + 1, n, f"--shard auto ({prefix} task {task} of {lo}..{hi})")


def _indexed_shard(environ: Mapping[str, str], idx: str, what: str) -> tuple[int, int]:
    if COUNT_ENV not in environ:
        raise UsageError(f"--shard auto: ${idx} is set ({what}) but not the number of shards; "
                         f"set {COUNT_ENV} (e.g. to the Job's completions)")
    index, n = _int(environ, idx), _int(environ, COUNT_ENV)
    return _checked(index + 1, n, f"--shard auto (${idx}={index}, ${COUNT_ENV}={n})")


def shard_from_env(environ: Mapping[str, str]) -> tuple[int, int]:
    """The (index, size) of this job array task, 1-based; a UsageError when no scheduler says."""
    if "SLURM_ARRAY_TASK_ID" in environ:
        return _range_shard(environ, "Slurm", "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX",
                            "SLURM_ARRAY_TASK_STEP", "SLURM_ARRAY_TASK_COUNT")
    task = str(environ.get("SGE_TASK_ID", "")).strip()
    if task and task.lower() != "undefined":  # SGE sets 'undefined' outside task arrays
        return _range_shard(environ, "Grid Engine", "SGE_TASK_ID", "SGE_TASK_FIRST", "SGE_TASK_LAST",
                            "SGE_TASK_STEPSIZE", None)
    for idx, what in (("JOB_COMPLETION_INDEX", "a Kubernetes indexed Job"),
                      ("AWS_BATCH_JOB_ARRAY_INDEX", "an AWS Batch array job"),
                      (INDEX_ENV, "by hand")):
        if idx in environ:
            return _indexed_shard(environ, idx, what)
    raise UsageError(f"--shard auto: no job array index in the environment; {_HINT}")


def shard_of(key: str, count: int) -> int:
    """The shard (1..count) of a video: a stable hash of its key, the same on every machine."""
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:12], 16) % count + 1


def part_path(path: "os.PathLike[str] | str", shard: tuple[int, int] | None) -> str:
    """results.csv -> results.part-2-of-8.csv: one output file per shard, merged by the user."""
    text = os.fspath(path)
    if shard is None:
        return text
    root, ext = os.path.splitext(text)
    return f"{root}.part-{shard[0]}-of-{shard[1]}{ext}"
