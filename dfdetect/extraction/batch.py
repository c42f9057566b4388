"""The batch job behind `dfdetect extract`: many videos, worker processes, shards, resume."""

from __future__ import annotations

import errno
import hashlib
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from dfdetect import console
from dfdetect.errors import UsageError
from dfdetect.extraction.faces import build_detector, extract_faces
from dfdetect.extraction.inputs import VideoInput, inputs_from_paths
from dfdetect.extraction.options import ExtractOptions
from dfdetect.extraction.store import (
    MANIFEST_NAME,
    check_config,
    is_finished,
    merge_parts,
    part_name,
    read_rows,
    save_json,
    save_stack,
    write_rows,
)
from dfdetect.manifest import STATUS_ERROR, STATUS_OK
from dfdetect.outputs import is_disk_full

# The manifest is rewritten at most this often while a batch runs (and always at the end), so a
# killed run loses at most the rows of the last few seconds; their stacks are simply redone.
MANIFEST_FLUSH_SECONDS = 2.0


@dataclass
class ExtractSummary:
    """What one `run_extraction` call did."""

    manifest: Path
    total: int = 0
    ok: int = 0
    no_face: int = 0
    error: int = 0
    skipped: int = 0
    frames: int = 0
    seconds: float = 0.0
    merged: bool = False
    errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def failed(self) -> bool:
        return self.error > 0


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """'2/4' -> (2, 4). Shards are numbered 1..n."""
    if text is None or text == "":
        return None
    try:
        i, n = (int(x) for x in str(text).split("/"))
    except ValueError:
        raise UsageError(f"--shard must look like i/n (e.g. 1/4), not '{text}'") from None
    if n < 1 or not 1 <= i <= n:
        raise UsageError(f"--shard {text}: n must be >= 1" if n < 1 else
                         f"--shard {text}: shards are numbered 1..n, so i must be between 1 and {n}")
    return i, n


def shard_of(video_id: str, count: int) -> int:
    """The shard (1..count) a video belongs to: a stable hash of its id, the same on every machine."""
    return int(hashlib.sha1(video_id.encode("utf-8")).hexdigest()[:12], 16) % count + 1


# ---------------------------------------------------------------- one video (runs in a worker)

_worker_detector: dict[str, Any] = {}


def _init_worker(options: ExtractOptions) -> None:
    # Each worker builds its detector once; the parent keeps Ctrl-C to itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_detector["detector"] = build_detector(options)


def process_video(item: VideoInput, out_dir: Path, options: ExtractOptions, detector=None) -> dict[str, str]:
    """Extract one video, write its stack and sidecar atomically, return its manifest row."""
    detector = detector or _worker_detector.get("detector")
    if detector is None:
        detector = _worker_detector["detector"] = build_detector(options)
    row = item.row()
    faces_dir = out_dir / "faces"
    stack_path = faces_dir / f"{item.video_id}.npy"
    sidecar_path = faces_dir / f"{item.video_id}.json"
    try:
        result = extract_faces(item.path, options, detector)
        if result.status == STATUS_OK:
            save_stack(stack_path, result.faces)
        else:
            stack_path.unlink(missing_ok=True)  # a stale stack from an older run must not count
        if result.status != STATUS_ERROR:
            save_json(sidecar_path, {**result.sidecar(), "video_id": item.video_id, "options": options.to_dict()})
        status, error = result.status, result.error
        extra = {
            "frames": str(result.n_sampled), "faces": str(result.n_faces),
            "source_frames": str(result.frame_count or ""), "fps": f"{result.fps:.3f}" if result.fps else "",
            "width": str(result.width or ""), "height": str(result.height or ""),
        }
    except Exception as exc:  # one bad video must never stop the batch
        if is_disk_full(exc):  # ... but a full disk would fail every video after it: stop, the CLI says "disk full"
            raise OSError(errno.ENOSPC, "No space left on device", str(faces_dir)) from exc
        status, error = STATUS_ERROR, f"{type(exc).__name__}: {exc}"
        extra = {"frames": "0", "faces": "0"}
    row.update(extra)
    row.update({
        "status": status,
        "error": " ".join(str(error).split())[:300],
        "faces_file": f"faces/{item.video_id}.npy" if status == STATUS_OK else "",
        "sidecar": f"faces/{item.video_id}.json" if status != STATUS_ERROR else "",
        "detector": options.detector,
        "scale": f"{options.scale:g}",
        "size": str(options.size),
    })
    return row


def _process_in_worker(item: VideoInput, out_dir: Path, options: ExtractOptions) -> dict[str, str]:
    return process_video(item, out_dir, options)


# ---------------------------------------------------------------- the batch

class _Manifest:
    """Rows by video_id, flushed atomically and at most every MANIFEST_FLUSH_SECONDS."""

    def __init__(self, path: Path, rows: dict[str, dict[str, str]]) -> None:
        self.path, self.rows, self._last = path, rows, 0.0
        self.dirty = False

    def put(self, row: dict[str, str]) -> None:
        self.rows[row["video_id"]] = row
        self.dirty = True
        if time.monotonic() - self._last >= MANIFEST_FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self.dirty or not self.path.exists():
            write_rows(self.path, self.rows)
            self.dirty = False
        self._last = time.monotonic()


def run_extraction(
    inputs: Sequence[VideoInput] | Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    options: ExtractOptions | None = None,
    workers: int = 1,
    shard: tuple[int, int] | str | None = None,
) -> ExtractSummary:
    """Extract every input into out_dir (manifest.csv, faces/<video_id>.npy and .json sidecars).

    Finished videos (ok with a whole stack, or no_face) are skipped; errors are retried. With a
    shard (i, n) only that share is done and written to manifest.part-i-of-n.csv; the part files
    are merged into manifest.csv as soon as every shard's videos have a row (`merge_parts` does it
    by hand). Bad videos become error rows; the batch goes on.
    """
    options = (options or ExtractOptions()).validate()
    items = list(inputs)
    if items and not isinstance(items[0], VideoInput):
        items = inputs_from_paths(items)
    shard = parse_shard(shard) if isinstance(shard, str) else shard
    if workers < 1:
        raise UsageError(f"--workers must be at least 1, not {workers}")
    out = Path(out_dir)
    (out / "faces").mkdir(parents=True, exist_ok=True)
    check_config(out, options.fingerprint())

    all_ids = [it.video_id for it in items]
    if shard is not None:
        items = [it for it in items if shard_of(it.video_id, shard[1]) == shard[0]]
    target = out / (part_name(*shard) if shard else MANIFEST_NAME)
    known = read_rows(out / MANIFEST_NAME)
    rows = dict(known) if shard is None else {}
    rows.update(read_rows(target) if shard else {})
    manifest = _Manifest(target, rows)
    todo = []
    summary = ExtractSummary(manifest=target, total=len(items))
    for it in items:
        previous = rows.get(it.video_id) or known.get(it.video_id)
        if previous and previous.get("path") == str(it.path) and is_finished(previous, out):
            rows[it.video_id] = previous
            summary.skipped += 1
        else:
            todo.append(it)

    started = time.perf_counter()
    restore = _sigterm_as_interrupt()
    try:
        with console.progress_task("extract", total=len(todo)) as (progress, task):
            def record(row: dict[str, str]) -> None:
                manifest.put(row)
                summary.frames += int(row.get("frames") or 0)
                status = row["status"]
                setattr(summary, status, getattr(summary, status) + 1)
                if status == STATUS_ERROR:
                    summary.errors.append((row["video_id"], row["error"]))
                progress.update(task, advance=1, status=f"ok {summary.ok}  no_face {summary.no_face}  error {summary.error}")

            # Built here even for a pool: a bad --detector/--detector-model fails once, as a usage
            # error, not once per video inside every worker.
            detector = build_detector(options) if todo else None
            if workers == 1 or len(todo) <= 1:
                for it in todo:
                    record(process_video(it, out, options, detector))
            else:
                del detector
                _run_pool(todo, out, options, workers, record)
    finally:
        manifest.flush()
        summary.seconds = time.perf_counter() - started
        restore()

    if shard is not None:
        summary.merged = _merge_if_complete(out, all_ids, shard[1])
    return summary


def _run_pool(todo: list[VideoInput], out: Path, options: ExtractOptions, workers: int, record) -> None:
    """A process pool with a bounded queue; a crashed worker fails only the videos it held."""
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool
    from multiprocessing import get_context

    # fork starts a worker in milliseconds with cv2/dlib already loaded; but CUDA (an mtcnn
    # detector) cannot live in a forked child, so once torch is loaded workers are spawned.
    method = "fork" if sys.platform == "linux" and "torch" not in sys.modules else "spawn"
    queue = list(reversed(todo))
    while queue:
        pool = ProcessPoolExecutor(workers, mp_context=get_context(method), initializer=_init_worker, initargs=(options,))
        running: dict[Any, VideoInput] = {}
        try:
            while queue or running:
                while queue and len(running) < workers * 2:
                    it = queue.pop()
                    running[pool.submit(_process_in_worker, it, out, options)] = it
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    it = running.pop(fut)
                    try:
                        record(fut.result())
                    except BrokenProcessPool:
                        raise
                    except Exception as exc:
                        if is_disk_full(exc):
                            raise
                        row = it.row()
                        row.update(status=STATUS_ERROR, error=f"{type(exc).__name__}: {exc}"[:300], frames="0", faces="0")
                        record(row)
        except BrokenProcessPool:
            # The videos in flight when a worker died are recorded as errors; the rest go on.
            for it in running.values():
                row = it.row()
                row.update(status=STATUS_ERROR, error="the worker process died while reading this video", frames="0", faces="0")
                record(row)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _merge_if_complete(out: Path, all_ids: list[str], count: int) -> bool:
    """Merge the shard parts once every video of the run has a row in some part or the manifest."""
    have: set[str] = set(read_rows(out / MANIFEST_NAME))
    for i in range(1, count + 1):
        have |= set(read_rows(out / part_name(i, count)))
    if not set(all_ids) <= have:
        return False
    merge_parts(out)
    return True


def _sigterm_as_interrupt():
    """A batch scheduler's SIGTERM flushes the manifest like Ctrl-C does (main thread only)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.getsignal(signal.SIGTERM)

    def handler(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)
    return lambda: signal.signal(signal.SIGTERM, previous)
