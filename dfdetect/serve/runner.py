"""Start the server: workers loaded first, then uvicorn; on SIGTERM/Ctrl-C a clean stop."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dfdetect import console
from dfdetect.errors import UsageError
from dfdetect.serve.options import ServeOptions, is_loopback

if TYPE_CHECKING:
    import uvicorn


def require_extra() -> None:
    """FastAPI and uvicorn come with the `serve` extra; say how to get them instead of a traceback."""
    import importlib.util

    missing = [m for m in ("fastapi", "uvicorn", "python_multipart") if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(f"dfdetect serve needs {', '.join(missing)}; install the extra: pip install 'dfdetect[serve]'")


def serve(options: ServeOptions) -> None:
    """Load the model in every worker, then answer HTTP until SIGTERM or Ctrl-C.

    uvicorn's own signal handling stops accepting connections and lets requests in flight finish;
    then the job queue lets the running video finish, cancels the waiting ones, and the private
    upload folder is removed."""
    require_extra()
    options.validate()
    import uvicorn

    from dfdetect.serve.app import create_app
    from dfdetect.serve.jobs import JobQueue
    from dfdetect.serve.uploads import make_private_folder, remove_folder

    if not is_loopback(options.host) and options.token is None:
        console.warn(f"serving on {options.host} without --token-file: anyone who can reach this port can "
                     "upload videos; add --token-file FILE or keep the default --host 127.0.0.1")
    upload_dir = make_private_folder(options.temp_root)
    jobs = JobQueue(options)
    try:
        console.info(f"serve: loading the model in {options.workers} worker(s) ...")
        model = jobs.start()
        app = create_app(options, jobs, upload_dir)
        config = uvicorn.Config(app, host=options.host, port=options.port, lifespan="off",
                                log_level="warning" if console.is_quiet() else "info",
                                timeout_graceful_shutdown=int(options.time_limit_s) + 5)
        server = uvicorn.Server(config)
        host = f"[{options.host}]" if ":" in options.host else options.host
        console.info(f"serve: {model.get('model')} ready on http://{host}:{options.port}/ "
                     f"(API docs at /docs; Ctrl-C or SIGTERM stops)")
        _run_until_signal(server)
    finally:
        jobs.stop()
        remove_folder(upload_dir)
    console.info("serve: stopped")


def _run_until_signal(server: "uvicorn.Server") -> None:
    """uvicorn handles SIGINT/SIGTERM itself, then raises the signal again once it has stopped;
    with the default handlers that would kill the process before the workers are stopped and the
    upload folder removed, so both are no-ops while it runs: a signal means a clean stop, exit 0."""
    import signal

    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
