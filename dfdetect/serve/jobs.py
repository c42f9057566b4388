"""The job queue: a bounded queue of videos, scoring worker processes behind it, and kept results.

One dispatcher thread per worker process takes the next job, hands it to its worker and waits, at
most the per-video time limit: past it, or if the worker dies, the job fails with a JSON error and
the worker is replaced; the server itself never goes down with a video. Uploaded files are
deleted when their job ends, however it ends.
"""

from __future__ import annotations

import math
import queue
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from dfdetect.errors import DfdetectError
from dfdetect.serve.http_errors import ApiError
from dfdetect.serve.options import ServeOptions

START_TIMEOUT_S = 300.0  # loading torch, the model and the detector on a slow, busy machine


@dataclass
class Job:
    name: str
    path: Path
    explain: bool
    owned: bool  # an upload: deleted when the job ends
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    state: str = "queued"  # queued | running | done | failed
    progress: float = 0.0
    result: dict[str, Any] | None = None
    error: str = ""
    fix: str = ""
    status_code: int = 200
    created: float = field(default_factory=time.time)
    finished: float | None = None
    _callbacks: list[Callable[[], None]] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def on_done(self, callback: Callable[[], None]) -> None:
        """Call `callback` once the job has ended (at once if it already has)."""
        with self._lock:
            if self.finished is None:
                self._callbacks.append(callback)
                return
        callback()

    def finish(self, state: str, status_code: int, result: dict | None = None, error: str = "", fix: str = "") -> None:
        self.state, self.status_code, self.result, self.error, self.fix = state, status_code, result, error, fix
        self.progress = 1.0 if state == "done" else self.progress
        if self.owned:  # the upload goes before anyone hears the job has ended
            self.path.unlink(missing_ok=True)
        with self._lock:
            self.finished = time.time()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    def public(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "state": self.state, "progress": round(self.progress, 3),
                               "name": self.name, "elapsed_seconds": round((self.finished or time.time()) - self.created, 1)}
        if self.result is not None:
            out["result"] = self.result
        if self.error:
            out["error"], out["fix"] = self.error, self.fix
        return out


class WorkerHandle:
    """One scoring process and its pipe."""

    def __init__(self, options: ServeOptions, threads: int | None, quiet: bool = False) -> None:
        self.options, self.threads, self.quiet = options, threads, quiet
        self.process = None
        self.conn = None

    def start(self) -> dict[str, Any]:
        """Spawn the worker and wait until its model is loaded; its model information."""
        self.spawn()
        return self.wait_ready()

    def spawn(self) -> None:
        import multiprocessing

        from dfdetect.serve.worker import worker_main

        context = multiprocessing.get_context("spawn")  # no forked torch or threads
        parent, child = context.Pipe()
        self.process = context.Process(target=worker_main, name="dfdetect-serve-worker", daemon=True,
                                       args=(child, list(self.options.checkpoints), self.options.device, self.threads,
                                             self.quiet))
        self.process.start()
        child.close()
        self.conn = parent

    def wait_ready(self) -> dict[str, Any]:
        """The worker's model information once it has loaded; DfdetectError if it cannot."""
        parent = self.conn
        self.quiet = True  # a replacement repeats no notes
        if not parent.poll(START_TIMEOUT_S):
            self.kill()
            raise DfdetectError(f"the scoring worker did not load the model within {START_TIMEOUT_S:.0f} s")
        try:
            kind, payload = parent.recv()
        except (EOFError, OSError):
            raise DfdetectError("the scoring worker died while loading the model; run `dfdetect predict` "
                                "on a clip with the same --checkpoint to see why") from None
        if kind != "ready":
            self.kill()
            raise DfdetectError(str(payload))
        return payload

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None:
            return
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.process.join(timeout)
        self.kill()

    def kill(self) -> None:
        if self.process is not None and self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        if self.conn is not None:
            self.conn.close()


class JobQueue:
    """Jobs in, results out; `start` before use and `stop` at the end."""

    def __init__(self, options: ServeOptions) -> None:
        import os

        self.options = options
        self.pending: queue.Queue[Job | None] = queue.Queue(maxsize=options.queue_size)
        self.kept: OrderedDict[str, Job] = OrderedDict()  # POST /v1/jobs, for GET /v1/jobs/{id}
        self.lock = threading.Lock()
        self.model: dict[str, Any] | None = None
        self.stopping = False
        self.running = 0
        self.mean_seconds: float | None = None  # running mean of a job's time (Retry-After, the page's estimate)
        threads = None if options.workers == 1 else max(1, (os.cpu_count() or 1) // options.workers)
        from dfdetect import console

        self.handles = [WorkerHandle(options, threads, quiet=console.is_quiet() or i > 0) for i in range(options.workers)]
        self.threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ life cycle
    def start(self) -> dict[str, Any]:
        """Start every worker (the model loads once per worker); raises DfdetectError if one cannot."""
        try:
            for handle in self.handles:  # all load at once: start-up takes one worker's time, not N
                handle.spawn()
            for handle in self.handles:
                self.model = handle.wait_ready()
        except BaseException:
            for handle in self.handles:
                handle.kill()
            raise
        for i, handle in enumerate(self.handles):
            thread = threading.Thread(target=self._dispatch, args=(handle,), name=f"dfdetect-dispatch-{i}", daemon=True)
            thread.start()
            self.threads.append(thread)
        return self.model

    def stop(self) -> None:
        """Refuse new jobs, cancel the waiting ones, let running ones finish, stop the workers."""
        self.stopping = True
        while True:
            try:
                job = self.pending.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                self._cleanup(job)
                job.finish("failed", 503, error="the server is shutting down", fix="send the video again later")
        for _ in self.threads:
            self.pending.put(None)
        for thread in self.threads:
            thread.join(self.options.time_limit_s + 10)
        for handle in self.handles:
            handle.stop()

    # ------------------------------------------------------------------ submitting and finding jobs
    def check_room(self) -> None:
        """503 + Retry-After when the queue is full (before an upload is even read)."""
        if self.stopping:
            raise ApiError(503, "the server is shutting down", "send the video again later", {"Retry-After": "10"})
        if self.pending.full():
            raise self.busy()

    def submit(self, name: str, path: Path, explain: bool = False, owned: bool = True, keep: bool = False) -> Job:
        job = Job(name, path, explain, owned)
        try:
            self.check_room()
            self.pending.put_nowait(job)
        except (ApiError, queue.Full) as exc:
            self._cleanup(job)
            raise exc if isinstance(exc, ApiError) else self.busy() from None
        if keep:
            with self.lock:
                self.kept[job.id] = job
                self._prune()
        return job

    def get(self, job_id: str) -> Job | None:
        with self.lock:
            self._prune()
            return self.kept.get(job_id)

    def stats(self) -> dict[str, int]:
        return {"workers": len(self.handles), "running": self.running, "queued": self.pending.qsize(),
                "queue_size": self.options.queue_size}

    def busy(self) -> ApiError:
        """503 with a Retry-After from the recent time per video and the queue's length."""
        per_video = self.mean_seconds or 5.0  # before the first video: a guess
        wait = math.ceil(per_video * (self.pending.qsize() + 1) / max(len(self.handles), 1))
        return ApiError(503, "the server is busy: the queue of videos is full",
                        "wait the number of seconds in the Retry-After header and send it again",
                        {"Retry-After": str(min(max(wait, 1), 120))})

    def _prune(self) -> None:
        """Keep finished results for a bounded time and number (unfinished jobs always stay)."""
        now = time.time()
        finished = [j for j in self.kept.values() if j.finished is not None]
        expired = {j.id for j in finished if now - j.finished > self.options.keep_seconds}
        surplus = len(finished) - len(expired) - self.options.keep_jobs
        for j in finished:  # oldest first (insertion order)
            if surplus <= 0:
                break
            if j.id not in expired:
                expired.add(j.id)
                surplus -= 1
        for job_id in expired:
            del self.kept[job_id]

    # ------------------------------------------------------------------ running jobs
    def _dispatch(self, handle: WorkerHandle) -> None:
        while True:
            job = self.pending.get()
            if job is None:
                return
            self.running += 1
            started = time.perf_counter()
            try:
                self._run(handle, job)
            except Exception as exc:  # never lose the dispatcher: the job fails, the next one runs
                if job.finished is None:
                    job.finish("failed", 500, error=f"internal error: {exc}", fix="report this with the video if you can")
            finally:
                self._cleanup(job)
                self.running -= 1
                took = time.perf_counter() - started
                self.mean_seconds = took if self.mean_seconds is None else 0.8 * self.mean_seconds + 0.2 * took

    def _run(self, handle: WorkerHandle, job: Job) -> None:
        job.state, job.progress = "running", 0.01
        limit = self.options.time_limit_s
        try:
            handle.conn.send((str(job.path), job.name, job.explain))
            deadline = time.monotonic() + limit
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    job.finish("failed", 504, error=f"scoring took longer than the server's limit of {limit:g} s",
                               fix="send a shorter clip, or ask the operator for a larger --time-limit")
                    self._replace(handle)
                    return
                if not handle.conn.poll(min(remaining, 1.0)):
                    if not handle.process.is_alive():
                        raise EOFError
                    continue
                kind, payload = handle.conn.recv()
                if kind == "progress":
                    job.progress = float(payload)
                elif kind == "done":
                    ok = payload.get("status") in ("ok", "no_face")
                    job.finish("done" if ok else "failed", 200 if ok else 422, payload,
                               "" if ok else (payload.get("error") or "the video could not be read"),
                               "" if ok else "check that the file plays; re-encode it (e.g. to H.264 mp4) and send it again")
                    return
                elif kind == "refused":
                    job.finish("failed", 400, error=str(payload), fix="change the request (see /docs)")
                    return
                else:
                    job.finish("failed", 500, error=str(payload), fix="the model failed on this video; report it")
                    return
        except (EOFError, OSError, BrokenPipeError):
            job.finish("failed", 500, error="the scoring worker crashed on this video",
                       fix="check that the file plays; re-encode it and send it again")
            self._replace(handle)

    def _replace(self, handle: WorkerHandle) -> None:
        """A worker that hung or died: a fresh one takes its place (the model loads again)."""
        handle.kill()
        if not self.stopping:
            handle.start()

    @staticmethod
    def _cleanup(job: Job) -> None:
        if job.owned:
            job.path.unlink(missing_ok=True)
