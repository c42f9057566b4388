"""The batch job behind `dfdetect extract`: many videos, worker processes, shards, resume."""

from __future__ import annotations

import errno
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from dfdetect import console
from dfdetect.errors import DfdetectError, UsageError
from dfdetect.extraction.faces import build_detector, extract_faces
from dfdetect.extraction.inputs import VideoInput, inputs_from_paths, settle_ids
from dfdetect.extraction.options import ExtractOptions
from dfdetect.extraction.rows import finish_row, recover_row, result_row
from dfdetect.extraction.views import add_views, reencoded_copy, remove_stale_copies
from dfdetect.extraction.store import (
    MANIFEST_NAME,
    check_config,
    is_finished,
    manifest_lock,
    merge_parts,
    part_name,
    read_rows,
    save_json,
    save_stack,
    update_rows,
    write_rows,
)
from dfdetect.manifest import LABEL_NAMES, STATUS_ERROR, STATUS_OK, parse_label
from dfdetect.sharding import parse_shard, shard_of
from dfdetect.outputs import is_disk_full

# The manifest is rewritten at most this often while a batch runs (and always at the end), so a
# killed run loses at most the rows of the last few seconds; their stacks are simply redone.
MANIFEST_FLUSH_SECONDS = 2.0
# Temporary re-encoded copies for views live here, inside DATA, and are removed after extraction.
REENCODE_DIR = ".reencode"


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
    notes: list[tuple[str, str]] = field(default_factory=list)  # ok videos with a remark (warnings)
    recovered: int = 0  # of `skipped`: finished by a killed run that never recorded them

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def failed(self) -> bool:
        return self.error > 0


# ---------------------------------------------------------------- one video (runs in a worker)

_worker_detector: dict[str, Any] = {}


def _init_worker(options: ExtractOptions, parent: int | None = None) -> None:
    # Each worker builds its detector once; the parent keeps Ctrl-C to itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if parent is not None:
        from dfdetect.extraction.workers import die_with_parent

        die_with_parent(parent)
    _worker_detector["detector"] = build_detector(options)


def process_video(item: VideoInput, out_dir: Path, options: ExtractOptions, detector=None) -> dict[str, str]:
    """Extract one video, write its stack and sidecar atomically, return its manifest row."""
    detector = detector or _worker_detector.get("detector")
    if detector is None:
        detector = _worker_detector["detector"] = build_detector(options)
    faces_dir = out_dir / "faces"
    stack_path = faces_dir / f"{item.video_id}.npy"
    sidecar_path = faces_dir / f"{item.video_id}.json"
    copy: Path | None = None
    try:
        if item.view:  # a re-encoded view: extract from a temporary H.264 copy, recorded under the original's path
            copy = reencoded_copy(item, out_dir / REENCODE_DIR)
        result = extract_faces(copy or item.path, options, detector)
        result.path = str(item.path)
        if result.status == STATUS_OK:
            save_stack(stack_path, result.faces)
        else:
            stack_path.unlink(missing_ok=True)  # a stale stack from an older run must not count
        if result.status != STATUS_ERROR:
            save_json(sidecar_path, {**result.sidecar(), "video_id": item.video_id, "options": options.to_dict()})
        return result_row(item, result, options)
    except Exception as exc:  # one bad video must never stop the batch
        if is_disk_full(exc):  # ... but a full disk would fail every video after it: stop, the CLI says "disk full"
            raise OSError(errno.ENOSPC, "No space left on device", str(faces_dir)) from exc
        return finish_row({**item.row(), "frames": "0", "faces": "0"}, item, STATUS_ERROR, f"{type(exc).__name__}: {exc}", options)
    finally:
        if copy is not None:
            copy.unlink(missing_ok=True)


def _process_in_worker(item: VideoInput, out_dir: Path, options: ExtractOptions) -> dict[str, str]:
    return process_video(item, out_dir, options)


# ---------------------------------------------------------------- the batch

class _Manifest:
    """This run's rows, merged into the manifest file under the DATA lock at most every
    MANIFEST_FLUSH_SECONDS (rows other processes wrote meanwhile are kept)."""

    def __init__(self, path: Path, out_dir: Path) -> None:
        self.path, self.out_dir, self._last = path, out_dir, 0.0
        self.mine: dict[str, dict[str, str]] = {}
        self.drop: set[str] = set()
        self.dirty = False
        self.interval = MANIFEST_FLUSH_SECONDS

    def put(self, row: dict[str, str]) -> None:
        self.mine[row["video_id"]] = row
        self.drop.discard(row["video_id"])
        self.dirty = True
        if time.monotonic() - self._last >= self.interval:
            self.flush()

    def flush(self) -> None:
        started = time.monotonic()
        if self.dirty or not self.path.exists():
            update_rows(self.path, self.out_dir, self.mine, self.drop)
            self.dirty = False
        self._last = time.monotonic()
        # A huge manifest takes long to re-read and rewrite: spend at most ~10 % of the time on it.
        self.interval = max(MANIFEST_FLUSH_SECONDS, 10 * (self._last - started))


def run_extraction(
    inputs: Sequence[VideoInput] | Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    options: ExtractOptions | None = None,
    workers: int = 1,
    shard: tuple[int, int] | str | None = None,
    reencode: Sequence[int] = (),
) -> ExtractSummary:
    """Extract every input into out_dir (manifest.csv, faces/<video_id>.npy and .json sidecars).

    Finished videos (ok with a whole stack, or no_face) are skipped; errors are retried. With a
    shard (i, n) only that share is done and written to manifest.part-i-of-n.csv; the part files
    are merged into manifest.csv as soon as every shard's videos have a row (`merge_parts` does it
    by hand). Bad videos become error rows; the batch goes on. `reencode` (H.264 CRFs) adds a
    re-encoded view of every input per CRF (`extraction.views`).
    """
    options = (options or ExtractOptions()).validate()
    items = list(inputs)
    if items and not isinstance(items[0], VideoInput):
        items = inputs_from_paths(items)
    if not items:
        raise DfdetectError("no videos to extract; pass video files, folders that hold them, or a CSV list")
    shard = parse_shard(shard) if isinstance(shard, str) else shard
    if workers < 1:
        raise UsageError(f"--workers must be at least 1, not {workers}")
    out = Path(out_dir)
    (out / "faces").mkdir(parents=True, exist_ok=True)
    target = out / (part_name(*shard) if shard else MANIFEST_NAME)
    manifest = _Manifest(target, out)
    with manifest_lock(out):  # ids, skips and reservations see one consistent manifest
        check_config(out, options.fingerprint())
        known = read_rows(out / MANIFEST_NAME, strict=True)
        settle_ids(items, known)  # all items, before sharding, so every shard agrees on the ids
        if reencode:
            items = add_views(items, reencode)
            remove_stale_copies(out / REENCODE_DIR)  # a killed run's temporary copies
        all_ids = [it.video_id for it in items]
        if shard is not None:
            items = [it for it in items if shard_of(it.video_id, shard[1]) == shard[0]]
            known = {**known, **read_rows(target)}
        todo, summary = _plan(items, known, out, manifest, options)
        reserved: dict[str, dict[str, str]] = {}
        if shard is None:
            # Reserve the ids of the videos to do, so a second extract into DATA running at the same
            # time sees them taken (and gives its own clip0 another id). Undone if we stop early.
            reserved = {it.video_id: {**it.row(), "status": STATUS_ERROR, "error": UNFINISHED} for it in todo}
            rows = read_rows(target)
            rows.update(manifest.mine)
            rows.update(reserved)
            write_rows(target, rows)
            manifest.dirty = False
        restore_rows = {vid: known[vid] for vid in reserved if vid in known}

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
                if row.get("note"):
                    summary.notes.append((row["video_id"], row["note"]))
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
        for vid in set(reserved) - set(manifest.mine):  # interrupted: give back what we never did
            if vid in restore_rows:
                manifest.mine[vid] = restore_rows[vid]
            else:
                manifest.drop.add(vid)
            manifest.dirty = True
        manifest.flush()
        summary.seconds = time.perf_counter() - started
        restore()

    if shard is not None:
        summary.merged = _merge_if_complete(out, all_ids, shard[1])
    return summary


# The error text of a row reserved by a running extract; left behind only by a killed one, and
# retried by the next run like any error.
UNFINISHED = "extraction started but did not finish (killed, or still running in another process)"
# Manifest columns that describe the input, not the extraction: refreshed from the current
# inputs for a finished video (e.g. a group from a newer grouping rule), without redoing it.
_INPUT_COLUMNS = ("path", "group", "method", "dataset", "split")


def _plan(
    items: list[VideoInput], known: dict[str, dict[str, str]], out: Path, manifest: _Manifest,
    options: ExtractOptions,
) -> tuple[list[VideoInput], ExtractSummary]:
    """Split the inputs into finished (skipped, metadata refreshed) and to do."""
    todo = []
    summary = ExtractSummary(manifest=manifest.path, total=len(items))
    for it in items:
        previous = known.get(it.video_id)
        if not (previous and is_finished(previous, out)):
            # finished by a killed run that never recorded it (no row, or still its reservation);
            # a recorded error is retried: its old files may predate what made it fail
            unrecorded = not previous or previous.get("error") == UNFINISHED
            recovered = recover_row(it, out, options) if unrecorded else None
            if recovered is None:
                todo.append(it)
                continue
            summary.skipped += 1
            summary.recovered += 1
            manifest.mine[it.video_id] = recovered
            manifest.dirty = True
            continue
        summary.skipped += 1
        fresh = it.row()
        row = {**previous, **{k: fresh[k] for k in _INPUT_COLUMNS}}
        old_label = parse_label(previous.get("label", ""))
        if it.label is not None and it.label != old_label:
            console.warn(
                f"{it.path}: was extracted as {LABEL_NAMES.get(old_label, 'unlabelled')}, now given as "
                f"{LABEL_NAMES[it.label]}; relabelled in the manifest (the face stack is kept)"
            )
            row["label"] = str(it.label)
        if row != previous:
            manifest.mine[it.video_id] = row  # written by the caller (it holds the lock now)
            manifest.dirty = True
    return todo, summary


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
        # workers get our pid: killed with SIGKILL, we cannot stop them, so they watch for it
        pool = ProcessPoolExecutor(workers, mp_context=get_context(method), initializer=_init_worker,
                                   initargs=(options, os.getpid()))
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
