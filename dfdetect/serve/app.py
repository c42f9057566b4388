"""The FastAPI application: the page, the JSON API, the token and JSON errors (never a traceback).

FastAPI is imported at the top: FastAPI reads the route functions' annotations at run time, and
this module is only imported by `dfdetect serve` (the optional extra), never by the rest.
"""

import asyncio
import hmac
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from dfdetect import __version__
from dfdetect.serve.confine import confine_path
from dfdetect.serve.http_errors import ApiError
from dfdetect.serve.jobs import Job, JobQueue
from dfdetect.serve.options import ServeOptions
from dfdetect.serve.uploads import receive_upload

STATIC = Path(__file__).resolve().parent / "static"
JSON_LIMIT = 64 * 1024
# The page and the API reference load only what this server serves (Grad-CAM strips are data: URLs).
PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                               "frame-ancestors 'none'; form-action 'self'",
    "Referrer-Policy": "no-referrer",
}
DESCRIPTION = (
    "Score videos for deepfake manipulation with the model loaded once. `POST /v1/predict` answers "
    "with the fields of `dfdetect predict --format json` plus the per-frame timeline; `POST /v1/jobs` "
    "queues a long video and `GET /v1/jobs/{id}` follows it. With a token file every /v1 call needs "
    "`Authorization: Bearer <token>`. Errors are JSON: `{\"error\": ..., \"fix\": ...}`. Label 1 = fake."
)
VIDEO_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": {
                "type": "object", "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary", "description": "the video"}}}},
            "application/json": {"schema": {
                "type": "object", "required": ["path"],
                "properties": {"path": {"type": "string",
                                        "description": "a file under the server's --allow-paths folder"}}}},
        },
    },
}
ERRORS = {code: {"description": text + ' (JSON: {"error": ..., "fix": ...})'} for code, text in (
    (400, "empty, truncated or malformed upload"), (401, "missing or wrong bearer token"),
    (403, "path outside --allow-paths, or paths not allowed"), (413, "upload over --max-upload-mb"),
    (415, "not a video (checked by content)"), (422, "a video that cannot be decoded"),
    (503, "queue full: retry after the Retry-After header's seconds"), (504, "over the per-video time limit"))}


def create_app(options: ServeOptions, jobs: JobQueue, upload_dir: Path) -> FastAPI:
    # /docs is our own page drawn from /openapi.json (no CDN); FastAPI's Swagger UI, which loads
    # its script from a CDN, moves to /docs/swagger.
    app = FastAPI(title="dfdetect", version=__version__, description=DESCRIPTION, docs_url=None, redoc_url=None)

    app.add_middleware(NoSniff)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), exc.status, headers=exc.headers)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        fix = "see /docs for the API" if exc.status_code in (404, 405) else ""
        return JSONResponse({"error": str(exc.detail), "fix": fix}, exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return JSONResponse({"error": f"{where}: {first.get('msg', 'invalid request')}", "fix": "see /docs"}, 400)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": f"internal error ({type(exc).__name__})",
                             "fix": "try again; if it persists, report it with the server's log"}, 500)

    def authorised(request: Request) -> None:
        """Bearer token on every /v1 call when the server has one (constant-time comparison)."""
        if options.token is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), options.token.encode()):
            raise ApiError(401, "missing or wrong token", "send the header Authorization: Bearer <token>",
                           {"WWW-Authenticate": "Bearer"})

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/docs", include_in_schema=False)
    async def api_reference() -> FileResponse:
        return FileResponse(STATIC / "api.html", headers=PAGE_HEADERS)

    @app.get("/docs/swagger", include_in_schema=False)
    async def swagger() -> Any:
        from fastapi.openapi.docs import get_swagger_ui_html

        return get_swagger_ui_html(openapi_url="/openapi.json", title="dfdetect API")

    @app.get("/healthz", summary="200 with the model's name once it is loaded")
    async def healthz() -> dict[str, Any]:
        model = jobs.model or {}
        return {"status": "ok", "model": model.get("model"), "checkpoint": model.get("checkpoint"),
                "token_required": options.token is not None, **jobs.stats()}

    @app.get("/v1/model", dependencies=[Depends(authorised)], responses=ERRORS,
             summary="the model, its recipe, input size, calibration and threshold, measured quality")
    async def model() -> dict[str, Any]:
        return {**(jobs.model or {}), "max_upload_mb": options.max_upload_mb,
                "paths_allowed": options.allow_paths is not None}

    uploading = [0]  # uploads being received now (one event loop: no lock needed)

    async def take_video(request: Request, explain: bool, keep: bool) -> Job:
        """The request's video (upload or allowed path) as a queued job."""
        jobs.check_room()  # a full queue answers before a byte of the upload is read
        if request.headers.get("content-type", "").split(";")[0].strip().lower() == "application/json":
            body = await read_json(request)
            path, name = confine_path(body.get("path") if isinstance(body, dict) else None, options.allow_paths)
            return jobs.submit(name, path, explain, owned=False, keep=keep)
        # Uploads in progress are bounded too (as many as the queue holds), so the disk holds at
        # most (2 x --queue + --workers) uploads, each under --max-upload-mb.
        if uploading[0] >= options.queue_size:
            raise jobs.busy()
        uploading[0] += 1
        try:
            upload = await receive_upload(request, upload_dir, options.max_upload_bytes)
        finally:
            uploading[0] -= 1
        return jobs.submit(upload.filename, upload.path, explain, owned=True, keep=keep)

    @app.post("/v1/predict", dependencies=[Depends(authorised)], openapi_extra=VIDEO_BODY, responses=ERRORS,
              summary="score one video: fake_prob, verdict, threshold, frames, faces, status, the timeline")
    async def predict(request: Request, explain: bool = Query(False, description="add the Grad-CAM strip (PNG data URL)")) -> JSONResponse:
        job = await take_video(request, explain, keep=False)
        await wait_for(job)
        return job_response(job)

    @app.post("/v1/jobs", status_code=202, dependencies=[Depends(authorised)], openapi_extra=VIDEO_BODY,
              responses=ERRORS, summary="queue a video; 202 with the job id to poll")
    async def submit(request: Request, explain: bool = Query(False)) -> JSONResponse:
        job = await take_video(request, explain, keep=True)
        url = f"/v1/jobs/{job.id}"
        return JSONResponse({"id": job.id, "state": job.state, "url": url}, 202, headers={"Location": url})

    @app.get("/v1/jobs/{job_id}", dependencies=[Depends(authorised)], responses=ERRORS,
             summary="a job's state (queued, running, done, failed), progress and, when done, the result")
    async def job_state(job_id: str) -> dict[str, Any]:
        job = jobs.get(job_id)
        if job is None:
            raise ApiError(404, f"no job {job_id}", "finished jobs are kept for a limited time; submit the video again")
        typical = None if jobs.mean_seconds is None else round(jobs.mean_seconds, 1)
        return {**job.public(), "typical_seconds": typical}  # for the page's wait estimate

    return app


class NoSniff:
    """`X-Content-Type-Options: nosniff` on every answer: a JSON error is never run as a page.
    Plain ASGI (not BaseHTTPMiddleware), so streamed uploads and disconnects pass untouched."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_header(message: dict) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-content-type-options", b"nosniff")]
            await send(message)

        await self.app(scope, receive, send_with_header)


async def read_json(request: Request, limit: int = JSON_LIMIT) -> Any:
    """A small JSON body ({"path": ...}), read with a cap: a huge body is refused, not buffered."""
    import json

    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise ApiError(413, f"the JSON body is larger than {limit // 1024} KiB", 'send only {"path": "..."}')
    try:
        return json.loads(data)
    except ValueError:
        raise ApiError(400, "the JSON body cannot be parsed", 'send {"path": "..."}') from None


async def wait_for(job: Job) -> None:
    """Await the job's end without holding a thread (the dispatcher wakes the event loop)."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def wake() -> None:
        loop.call_soon_threadsafe(lambda: done.done() or done.set_result(None))

    job.on_done(wake)
    await done


def job_response(job: Job) -> JSONResponse:
    if job.status_code == 200 and job.result is not None:
        return JSONResponse(job.result)
    body = {"error": job.error or "the video could not be scored", "fix": job.fix, **(job.result or {})}
    body["error"], body["fix"] = job.error or body["error"], job.fix
    headers = {"Retry-After": "10"} if job.status_code == 503 else None
    return JSONResponse(body, job.status_code, headers=headers)
