"""The detector factory: `create_detector` and `list_detectors`, the one door in.

Backends register themselves in `base.DETECTORS` when their module is imported; this module
imports them on first use. Adding a backend means one new module and its name in BACKENDS.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, Callable

from dfdetect.detectors.base import DETECTORS, FaceDetector
from dfdetect.errors import UsageError

# every module that registers a backend; each imports its heavy dependencies lazily
BACKENDS = ("dlib_cnn", "dlib_hog", "mtcnn_torch", "opencv_haar")


def import_backends() -> None:
    for backend in BACKENDS:
        importlib.import_module(f"dfdetect.detectors.{backend}")


def create_detector(name: str, **options: Any) -> FaceDetector:
    """Build a registered detector. Options that are None are dropped, so unset CLI flags never
    override a backend's defaults (timm's create_model does the same)."""
    import_backends()

    factory = DETECTORS.get(name)
    options = {k: v for k, v in options.items() if v is not None}
    accepted = _accepted_options(factory)
    if accepted is not None:
        # Callers may always pass `device`: CPU-only backends (dlib HOG) simply do not take it.
        if "device" not in accepted:
            options.pop("device", None)
        unknown = sorted(set(options) - accepted)
        if unknown == ["model_path"]:
            takers = [e.name for e in DETECTORS if "model_path" in (_accepted_options(e.factory) or {"model_path"})]
            raise UsageError(
                f"detector '{name}' takes no --detector-model; drop it, or use a detector that does "
                f"({', '.join(takers)})"
            )
        if unknown:
            flags = ", ".join("--detector-model" if k == "model_path" else k for k in unknown)
            raise UsageError(f"detector '{name}' takes no {flags} (its options: {', '.join(sorted(accepted)) or 'none'})")
    return factory(**options)


def _accepted_options(factory: Callable[..., Any]) -> set[str] | None:
    """Keyword names the factory takes, or None when it takes **kwargs (anything goes)."""
    params = inspect.signature(factory).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"}


def list_detectors() -> list[str]:
    import_backends()

    return DETECTORS.names()
