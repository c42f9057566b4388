"""A real `dfdetect serve` in a subprocess on a free loopback port, for the serve tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from _evaldata import save_tiny_checkpoint  # after the importorskips: only with the extra

START_TIMEOUT_S = 240  # torch and the model load in the worker; the CPUs here are shared


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tiny_serve_checkpoint(path: Path, calibration: dict | None = None, seed: int = 0) -> Path:
    """A tiny model that samples 4 frames of 32 px (fast), recorded in its extraction section;
    with CALIBRATION stored as `train` stores it (evaluation/calibration.py)."""
    import torch

    save_tiny_checkpoint(path, frames=4, img_size=32, seed=seed)
    payload = torch.load(path, weights_only=True)
    import json

    config = json.loads(payload["config"])
    config["extraction"] = {"frames": 4, "size": 32}
    if calibration:
        config["calibration"] = calibration
    payload["config"] = json.dumps(config, sort_keys=True)
    torch.save(payload, path)
    return path


class Server:
    """`python -m dfdetect serve ARGS` with TMPDIR pointed at `tmp` (its private upload folder lands there)."""

    def __init__(self, args: list[str], tmp: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tmp = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        self.log = (tmp.parent / f"serve-{self.port}.log").open("w+")
        env = {**os.environ, "TMPDIR": str(tmp), "DFDETECT_CHECKPOINT": "", "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dfdetect", "serve", "--port", str(self.port), "--device", "cpu", *args],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dfdetect serve exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"dfdetect serve did not start within {START_TIMEOUT_S} s:\n{self.output()}")

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def upload_folder(self) -> Path:
        found = sorted(self.tmp.glob("dfdetect-serve-*"))
        assert len(found) == 1, found
        return found[0]

    def alive(self) -> bool:
        return self.proc.poll() is None and httpx.get(self.url + "/healthz", timeout=10).status_code == 200

    def rss_mb(self) -> float:
        """Resident memory of the server and its worker processes together."""
        total, todo = 0, [self.proc.pid]
        while todo:
            pid = todo.pop()
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
                for task in Path(f"/proc/{pid}/task").iterdir():
                    todo += [int(c) for c in (task / "children").read_text().split()]
            except (OSError, StopIteration):
                continue
        return total / 1024

    def stop(self, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode
