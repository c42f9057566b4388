"""One unit of work: (video, condition) -> a cached face extraction. Run in-process or in workers.

A job that raises (a video an encoder or the decoder cannot read, ffmpeg failing) comes back
with status "error" and a one-line reason: it is counted in its row, never fatal, and not cached
(a re-run tries it again). What extraction itself decides (no face, an undecodable stream) is
cached like any result.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np

from dfdetect.robustness.cache import CachedExtraction, load_entry, store_entry
from dfdetect.robustness.registry import Perturbation

if TYPE_CHECKING:
    from dfdetect.extraction import ExtractOptions

CLEAN = "clean"


@dataclass(frozen=True)
class Job:
    """Extract `video` under `perturbation` at `level` (None/0: the clean video) into `cache_path`."""

    video: Path
    cache_path: Path
    perturbation: Perturbation | None
    level: int
    seed_entropy: tuple[int, ...]
    settings: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class JobResult:
    cache_path: Path
    status: str  # ok | no_face | error
    error: str = ""
    cached: bool = False


_worker_state: dict[str, Any] = {}


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[-1] if lines else type(exc).__name__)[:300]


def run_job(job: Job, options: "ExtractOptions", detector: Any = None) -> JobResult:
    """Extract one (video, condition), from the cache when it is there."""
    from dfdetect.extraction import extract_faces

    hit = load_entry(job.cache_path)
    if hit is not None:
        return JobResult(job.cache_path, hit.status, hit.error, cached=True)
    from dfdetect.video_io import VideoError, probe

    empty = np.zeros((0, options.size, options.size, 3), dtype=np.uint8)
    try:
        probe(job.video)
    except VideoError as exc:  # the input itself is unreadable: as certain as a result, so cached
        store_entry(job.cache_path, CachedExtraction(empty, "error", f"unreadable video: {exc}"), dict(job.settings))
        return JobResult(job.cache_path, "error", f"unreadable video: {exc}")
    try:
        if job.perturbation is None:
            ex = extract_faces(job.video, options, detector=detector)
        else:
            from dfdetect.robustness.perturb import perturb_video

            with tempfile.TemporaryDirectory(prefix="dfdetect-robustness-") as tmp:
                path = perturb_video(job.video, Path(tmp) / "perturbed.mp4", job.perturbation, job.level,
                                     options.frames, list(job.seed_entropy))
                ex = extract_faces(path, options, detector=detector)
    except Exception as exc:  # one bad video under one perturbation must not stop the run
        return JobResult(job.cache_path, "error", _one_line(exc))
    faces = ex.faces if ex.status == "ok" and ex.faces is not None else empty
    store_entry(job.cache_path, CachedExtraction(faces, ex.status, ex.error, ex.n_sampled), dict(job.settings))
    return JobResult(job.cache_path, ex.status, ex.error)


def _init_worker(options: "ExtractOptions") -> None:
    from dfdetect.extraction import build_detector

    _worker_state["options"] = options
    _worker_state["detector"] = build_detector(options)


def _worker_job(job: Job) -> JobResult:
    return run_job(job, _worker_state["options"], _worker_state["detector"])


def run_jobs(jobs: Sequence[Job], options: "ExtractOptions", workers: int = 1) -> Iterator[JobResult]:
    """Yield one JobResult per job (in completion order with workers). Cache hits are answered
    here without starting a worker; misses go to `workers` processes (spawned: the parent may
    hold torch and its threads, which a fork must not inherit)."""
    misses = []
    for job in jobs:
        hit = load_entry(job.cache_path)
        if hit is None:
            misses.append(job)
        else:
            yield JobResult(job.cache_path, hit.status, hit.error, cached=True)
    if not misses:
        return
    if workers <= 1 or len(misses) == 1:
        from dfdetect.extraction import build_detector

        detector = build_detector(options)
        for job in misses:
            yield run_job(job, options, detector)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    pool = ProcessPoolExecutor(max_workers=min(workers, len(misses)), mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_worker, initargs=(options,))
    try:
        futures = [pool.submit(_worker_job, job) for job in misses]
        for future in as_completed(futures):
            yield future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
