"""One device helper for every subcommand (`--device auto|cpu|cuda|cuda:N|mps`)."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from dfdetect.errors import UsageError

if TYPE_CHECKING:  # torch is imported lazily: `extract --detector dlib` must never pay for it
    import torch

log = logging.getLogger("dfdetect")

_DEVICE_RE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?|\d+)$")


def _available() -> str:
    import torch

    parts = ["cpu"]
    if torch.cuda.is_available():
        parts += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        parts.append("mps")
    return ", ".join(parts)


def validate_device_string(spec: str) -> str:
    """Check the syntax of a device string without importing torch."""
    spec = (spec or "auto").strip().lower()
    if not _DEVICE_RE.match(spec):
        raise UsageError(f"invalid --device '{spec}'; use auto, cpu, cuda, cuda:N or mps")
    return spec


def select_device(spec: str = "auto") -> "torch.device":
    """Resolve a device string: auto picks cuda, then mps, then cpu.

    Fails with an error that lists what *is* available, as ultralytics' select_device does.
    """
    import torch

    spec = validate_device_string(spec)
    if spec.isdigit():
        spec = f"cuda:{spec}"
    if spec == "auto":
        if torch.cuda.is_available():
            spec = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            spec = "mps"
        else:
            spec = "cpu"
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UsageError(f"--device {spec} requested but CUDA is not available (available: {_available()})")
        index = int(spec.split(":")[1]) if ":" in spec else 0
        if index >= torch.cuda.device_count():
            raise UsageError(f"--device {spec} does not exist (available: {_available()})")
        return torch.device("cuda", index)
    if spec == "mps":
        if getattr(torch.backends, "mps", None) is None or not torch.backends.mps.is_available():
            raise UsageError(f"--device mps requested but MPS is not available (available: {_available()})")
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (torch only if already imported: extract must not load it)."""
    import random
    import sys

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)
