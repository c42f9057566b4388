"""The bundled default detector: what `dfdetect predict video.mp4` uses when no checkpoint is given.

The checkpoint ships inside the package (`dfdetect/assets/default_detector.ckpt`, fp16 tensors plus
JSON config, loaded by the same `weights_only` code as every checkpoint) with a metadata file next
to it that records how it was trained, its measured AUCs and the file's SHA-256. The checksum is
verified before every load, so a truncated or altered copy is an error, never a silent wrong model.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from dfdetect.errors import DfdetectError

DEFAULT_NAME = "default"
ASSETS = Path(__file__).resolve().parent / "assets"
CHECKPOINT_FILE = "default_detector.ckpt"
METADATA_FILE = "default_detector.json"


def is_default(name: object) -> bool:
    return str(name) == DEFAULT_NAME


@lru_cache(maxsize=1)
def metadata(folder: Path = ASSETS) -> dict[str, Any]:
    path = folder / METADATA_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DfdetectError(
            f"{path}: the bundled default model's metadata is missing or unreadable ({exc}); reinstall dfdetect"
        ) from None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_checkpoint(folder: Path = ASSETS) -> Path:
    """The bundled checkpoint's path, after checking its SHA-256 against the metadata."""
    path = folder / CHECKPOINT_FILE
    if not path.is_file():
        raise DfdetectError(f"{path}: the bundled default model is missing; reinstall dfdetect or pass --checkpoint RUN")
    expected = metadata(folder).get("sha256")
    if sha256_of(path) != expected:
        raise DfdetectError(
            f"{path}: the bundled default model is corrupted (SHA-256 does not match {METADATA_FILE}); "
            "reinstall dfdetect (pip install --force-reinstall dfdetect) or pass --checkpoint RUN"
        )
    return path


def describe(folder: Path = ASSETS) -> str:
    """The one stderr line predict prints when it falls back to the default model."""
    meta = metadata(folder)
    auc = meta.get("oof_auc")
    quality = f"out-of-fold video AUC {auc['auc']:.2f} [{auc['lo']:.2f}, {auc['hi']:.2f}] on it; " if auc else ""
    return (
        f"no --checkpoint: using the bundled default model ({meta.get('model', '?')}, "
        f"trained on {meta.get('trained_on', '?')}; {quality}a starting point, not a forensic verdict)"
    )
