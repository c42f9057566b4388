"""The cache of perturbed extractions, so a second model on the same test set pays only the scoring.

One file per (video content, operation and its parameter, seed when the operation is random,
extraction settings): CACHE/<operation>/<video sha256[:24]>-<settings hash>.npz holding the face
stack (possibly empty), its status and error. Files are written whole by `atomic_write` (a temp file
and a rename), so a killed run leaves only finished entries plus hidden temp files, and a re-run
resumes where it stopped. An entry that does not load (a foreign or damaged file) counts as a miss
and is rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

CACHE_VERSION = 1
CACHE_ENV = "DFDETECT_CACHE"


def default_cache_dir() -> Path:
    """$DFDETECT_CACHE/robustness, else $XDG_CACHE_HOME/dfdetect/robustness, else ~/.cache/dfdetect/robustness."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]) / "robustness"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "dfdetect" / "robustness"


def file_sha256(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def short_hash(value: Any, n: int = 12) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:n]


@dataclass
class CachedExtraction:
    """What a cache entry holds: the face stack (N, S, S, 3) uint8 (N = 0 unless ok) and its status."""

    faces: np.ndarray
    status: str
    error: str = ""
    n_frames: int = 0


def entry_path(root: Path, operation: str, video_hash: str, settings: dict[str, Any]) -> Path:
    return root / operation / f"{video_hash[:24]}-{short_hash({'v': CACHE_VERSION, **settings})}.npz"


def load_entry(path: Path) -> CachedExtraction | None:
    """The entry, or None when it is missing or does not load."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            return CachedExtraction(np.asarray(data["faces"]), meta["status"], meta.get("error", ""),
                                    int(meta.get("n_frames", 0)))
    except (OSError, ValueError, KeyError, EOFError, TypeError):
        return None


def store_entry(path: Path, entry: CachedExtraction, settings: dict[str, Any]) -> Path:
    """Write atomically (dfdetect.manifest.atomic_write): never half an entry."""
    from dfdetect.manifest import atomic_write

    meta = json.dumps({"status": entry.status, "error": entry.error, "n_frames": entry.n_frames,
                       "settings": settings, "version": CACHE_VERSION}, sort_keys=True, default=str)
    faces = np.ascontiguousarray(entry.faces, dtype=np.uint8)
    return atomic_write(path, lambda fh: np.savez(fh, faces=faces, meta=np.array(meta)))


def scores_path(root: Path, checkpoint: str | os.PathLike[str], aggregate: str) -> Path:
    """Where one checkpoint's video probabilities of cached stacks are kept (keyed by its bytes)."""
    return root / "scores" / f"{file_sha256(checkpoint)[:24]}-{aggregate}.json"


def load_scores(path: Path) -> dict[str, float]:
    """entry name -> video probability; empty when missing or unreadable."""
    try:
        data = json.loads(path.read_text())
        return {str(k): float(v) for k, v in data.get("scores", {}).items()}
    except (OSError, ValueError, AttributeError, TypeError):
        return {}


def store_scores(path: Path, scores: dict[str, float]) -> Path:
    from dfdetect.manifest import atomic_write

    text = json.dumps({"version": CACHE_VERSION, "scores": scores}, sort_keys=True).encode()
    return atomic_write(path, lambda fh: fh.write(text))
