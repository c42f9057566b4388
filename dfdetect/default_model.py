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


def checkout_root(folder: Path = ASSETS) -> Path | None:
    """The git checkout that holds `folder` (an editable install), or None for an installed copy."""
    for parent in Path(folder).resolve().parents:
        if (parent / ".git").exists() and (parent / "pyproject.toml").is_file():
            return parent
    return None


def repair_hint(folder: Path = ASSETS) -> str:
    """How to get the bundled file back: from git in a checkout (pip would reinstall the same
    broken file from an editable install), by reinstalling otherwise."""
    root = checkout_root(folder)
    if root is not None:
        rel = (Path(folder).resolve() / CHECKPOINT_FILE).relative_to(root).as_posix()
        return f"restore it from the checkout (git -C {root} checkout -- {rel})"
    return "reinstall dfdetect (pip install --force-reinstall dfdetect)"


def default_checkpoint(folder: Path = ASSETS) -> Path:
    """The bundled checkpoint's path, after checking its SHA-256 against the metadata."""
    path = folder / CHECKPOINT_FILE
    if not path.is_file():
        raise DfdetectError(f"{path}: the bundled default model is missing; {repair_hint(folder)} or pass --checkpoint RUN")
    expected = metadata(folder).get("sha256")
    if sha256_of(path) != expected:
        raise DfdetectError(
            f"{path}: the bundled default model is corrupted (SHA-256 does not match {METADATA_FILE}); "
            f"{repair_hint(folder)} or pass --checkpoint RUN"
        )
    return path


def describe(folder: Path = ASSETS, threshold: float | None = 0.5) -> str:
    """The one stderr line predict prints when it falls back to the default model: what it is,
    what its quality figure measures (its recipe on the FF++ sample, not this model on the user's
    videos) and how to read the score it prints."""
    meta = metadata(folder)
    auc = meta.get("oof_auc")
    quality = (
        f"its recipe's out-of-fold video AUC on that sample is {auc['auc']:.2f} [{auc['lo']:.2f}, {auc['hi']:.2f}]: "
        "how well the recipe ranks held-out FF++ videos, not a measure of this model on your videos. " if auc else ""
    )
    return (
        f"no --checkpoint: using the bundled default model ({meta.get('model', '?')}, "
        f"trained on {meta.get('trained_on', '?')}); {quality}"
        f"Reading the score: P(fake) at or above {'the threshold' if threshold is None else f'{threshold:.3g}'} "
        "(--threshold sets it) is called fake; scores near it are weak "
        "evidence either way, so rank videos by P(fake) or set --threshold for your data. "
        "A starting point, not a forensic verdict."
    )
