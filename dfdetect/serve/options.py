"""What `dfdetect serve` is told: ServeOptions and the checks made before anything starts."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

from dfdetect.errors import UsageError

LOOPBACK_NAMES = ("localhost", "ip6-localhost")


@dataclass
class ServeOptions:
    checkpoints: list[str] = field(default_factory=lambda: ["default"])
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1  # scoring processes, each with its own model and detector
    max_upload_mb: float = 200.0
    token: str | None = None  # read from --token-file; None: no token asked
    allow_paths: Path | None = None  # resolved DIR of --allow-paths
    device: str = "cpu"
    queue_size: int = 16  # jobs waiting (not running) before 503 + Retry-After
    time_limit_s: float = 300.0  # per video; past it the worker is killed and restarted
    keep_jobs: int = 100  # finished jobs kept for GET /v1/jobs/{id}
    keep_seconds: float = 3600.0
    temp_root: str | None = None  # where the private upload folder is made (default: $TMPDIR)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    def validate(self) -> "ServeOptions":
        if not 0 <= self.port <= 65535:
            raise UsageError(f"--port {self.port} is outside 0-65535")
        if self.workers < 1:
            raise UsageError("--workers must be at least 1")
        if self.max_upload_mb <= 0:
            raise UsageError("--max-upload-mb must be positive")
        if self.queue_size < 1 or self.time_limit_s <= 0:
            raise UsageError("--queue must be at least 1 and --time-limit positive")
        return self


def read_token_file(path: str | os.PathLike[str]) -> str:
    """The bearer token: the file's text without surrounding white space; never empty."""
    p = Path(path)
    try:
        token = p.read_text().strip()
    except OSError as exc:
        raise UsageError(f"--token-file {p}: {exc.strerror or exc}") from None
    if not token:
        raise UsageError(f"--token-file {p}: the file is empty; put the token on its first line")
    if any(c.isspace() for c in token) or not token.isprintable():
        raise UsageError(f"--token-file {p}: the token must be one printable word (no spaces or line breaks)")
    return token


def resolve_allow_paths(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    if not p.is_dir():
        raise UsageError(f"--allow-paths {p}: not a folder")
    return p.resolve()


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost: nobody else on the network can reach it."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
