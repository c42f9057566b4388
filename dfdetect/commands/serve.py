"""`dfdetect serve`: a local web page and HTTP API, the model loaded once (needs the `serve` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from dfdetect.commands._common import DeviceOption, handle_errors, prefer_passive_openmp

# Shown at the end of --help (cli.py passes it to Typer as the epilog).
EXAMPLES = [
    "dfdetect serve                      # the bundled model on http://127.0.0.1:8000/",
    "dfdetect serve -c runs/dual --workers 2 --token-file ~/.dfdetect-token",
    "dfdetect serve --allow-paths /mnt/videos --queue 64   # then: curl -F file=@clip.mp4 http://127.0.0.1:8000/v1/predict",
]


@handle_errors
def command(
    checkpoint: Annotated[Optional[List[str]], typer.Option(
        "--checkpoint", "-c", help="RUN folder or checkpoint file; repeat it for an ensemble.",
        show_default="$DFDETECT_CHECKPOINT, else the bundled model")] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on; anything but loopback is reachable by others.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Scoring processes (each loads the model once).")] = 1,
    max_upload_mb: Annotated[float, typer.Option("--max-upload-mb", help="Largest upload accepted (413 past it).")] = 200.0,
    token_file: Annotated[Optional[Path], typer.Option(
        "--token-file", help="File holding a token; every /v1 call then needs 'Authorization: Bearer <token>'.")] = None,
    allow_paths: Annotated[Optional[Path], typer.Option(
        "--allow-paths", help='Let {"path": ...} requests score files under this folder (nothing outside it).')] = None,
    queue: Annotated[int, typer.Option("--queue", min=1, help="Videos waiting at most; past it 503 with Retry-After.")] = 16,
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds per video before it is given up (504).")] = 300.0,
    device: DeviceOption = "auto",
) -> None:
    """Serve a web page and an HTTP API that score videos (fake probability, verdict, timeline, Grad-CAM).

    Binds to 127.0.0.1 unless --host says otherwise. The API is documented at /docs."""
    prefer_passive_openmp()
    from dfdetect.commands.predict import _checkpoint
    from dfdetect.device import validate_device_string
    from dfdetect.serve.options import ServeOptions, read_token_file, resolve_allow_paths
    from dfdetect.serve.runner import require_extra, serve

    require_extra()
    validate_device_string(device)
    options = ServeOptions(
        checkpoints=[_checkpoint(c) for c in checkpoint] if checkpoint else [_checkpoint(None)],
        host=host, port=port, workers=workers, max_upload_mb=max_upload_mb,
        token=read_token_file(token_file) if token_file else None,
        allow_paths=resolve_allow_paths(allow_paths) if allow_paths else None,
        device=device, queue_size=queue, time_limit_s=time_limit,
    )
    serve(options.validate())
