"""Checkpoints: tensors plus a JSON config, loaded without ever unpickling code.

A dfdetect checkpoint is a `torch.save` of plain containers only:
    {"format": "dfdetect-checkpoint", "version": 1,
     "config": "<JSON text>",                 # model name, options, preprocessing, training setup
     "state_dict": {name: tensor},
     "train_state": {...} (last.ckpt only)}   # optimizer, scheduler, scaler, epoch, RNG states, history
It is read back with `torch.load(weights_only=True)`, whose restricted unpickler refuses any
object it does not know (a payload whose __reduce__ would run code fails before it runs).
Checkpoints of the paper's public code (`{'model_state_dict': ...}`) load via the models
package's converter.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dfdetect.errors import DfdetectError

if TYPE_CHECKING:
    import torch
    from torch import nn

FORMAT = "dfdetect-checkpoint"
VERSION = 1
BEST, LAST = "best.ckpt", "last.ckpt"


_CHECKPOINT_HINT = "; pass a RUN folder or the best.ckpt/last.ckpt that `dfdetect train` wrote"

def unwrap(model: "nn.Module") -> "nn.Module":
    """The bare model under DistributedDataParallel / torch.compile wrappers."""
    while True:
        inner = getattr(model, "module", None) or getattr(model, "_orig_mod", None)
        if inner is None:
            return model
        model = inner


def save_checkpoint(
    path: str | os.PathLike[str],
    model: "nn.Module",
    config: dict[str, Any],
    train_state: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint atomically (temp file + rename: a kill never leaves half a file)."""
    import torch

    path = Path(path)
    payload: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "config": json.dumps(config, sort_keys=True),
        "state_dict": {k: v.detach().cpu().clone() for k, v in unwrap(model).state_dict().items()},
    }
    if train_state is not None:
        payload["train_state"] = train_state
    from dfdetect.manifest import atomic_write

    return atomic_write(path, lambda fh: torch.save(payload, fh))


def update_checkpoint_config(path: str | os.PathLike[str], updates: dict[str, Any]) -> dict[str, Any]:
    """Merge plain-data `updates` into a dfdetect checkpoint's config, rewriting it atomically
    (train's calibration is added to best.ckpt this way); returns the new config."""
    import torch

    from dfdetect.manifest import atomic_write

    obj = read_checkpoint(path)
    if not is_dfdetect_checkpoint(obj):
        raise DfdetectError(f"{path}: not a dfdetect checkpoint; cannot record {', '.join(updates)} in it")
    config = {**checkpoint_config(obj), **updates}
    obj["config"] = json.dumps(config, sort_keys=True)
    atomic_write(Path(path), lambda fh: torch.save(obj, fh))
    return config


def resolve_checkpoint(path_or_run: str | os.PathLike[str]) -> Path:
    """A file is used as is; a RUN directory means RUN/best.ckpt; `default` is the bundled model."""
    from dfdetect.default_model import default_checkpoint, is_default

    if is_default(path_or_run):
        return default_checkpoint()
    p = Path(path_or_run)
    if p.is_dir():
        best = p / BEST
        if not best.is_file():
            hint = f"; {p / LAST} exists, pass it explicitly" if (p / LAST).is_file() else ""
            raise DfdetectError(f"{p}: no {BEST} in this run folder{hint}")
        return best
    if not p.exists():
        raise DfdetectError(f"{p}: no such checkpoint file or run folder; pass a RUN folder from `dfdetect train` or a .ckpt file")
    return p


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a checkpoint's raw dict with `weights_only=True`; anything else is refused in one line."""
    import torch

    p = Path(path)
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # PyTorch's message advises weights_only=False (running the file's code) or allowlisting
        # its globals; neither is advice to give, so only the refused name is kept.
        lines = [line.strip() for line in str(exc).splitlines()
                 if line.strip() and "weights_only" not in line and "safe_globals" not in line]
        blocked = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if blocked is None:
            raise DfdetectError(
                f"{p}: not a readable checkpoint ({lines[-1] if lines else 'unpickling failed'})" + _CHECKPOINT_HINT
            ) from None
        raise DfdetectError(
            f"{p}: refused: the file carries pickled code ({blocked.group(1)}) that would run on loading; "
            "dfdetect loads tensors and plain data only"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, KeyError, IndexError) as exc:
        if isinstance(exc, (FileNotFoundError, PermissionError)):
            raise
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if isinstance(exc, (KeyError, IndexError)):  # the unpickler tripping over garbage
            first = "corrupt pickle data"
        raise DfdetectError(f"{p}: not a readable checkpoint ({first})" + _CHECKPOINT_HINT) from None
    if not isinstance(obj, dict):
        raise DfdetectError(f"{p}: not a checkpoint (a {type(obj).__name__}, expected a dict of tensors)")
    return obj


def is_dfdetect_checkpoint(obj: dict[str, Any]) -> bool:
    return obj.get("format") == FORMAT and "state_dict" in obj and "config" in obj


def checkpoint_config(obj: dict[str, Any]) -> dict[str, Any]:
    try:
        config = json.loads(obj["config"])
    except (TypeError, ValueError):
        raise DfdetectError("checkpoint config is not valid JSON") from None
    return config


def _reference_to_model_state(
    obj: dict[str, Any], path: Path, positive: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(state_dict, model_options) for a checkpoint of the paper's public code, else None."""
    try:
        from dfdetect.models.reference import convert_reference_checkpoint, is_reference_checkpoint
    except ImportError:
        return None
    if not is_reference_checkpoint(obj):
        return None
    try:
        return convert_reference_checkpoint(obj, positive)
    except DfdetectError as exc:
        if str(exc).startswith(str(path)):
            raise
        raise DfdetectError(f"{path}: {exc}") from None
    except (KeyError, ValueError, RuntimeError) as exc:
        raise DfdetectError(f"{path}: looks like a reference-code checkpoint but cannot be converted ({exc})") from None


def build_from_checkpoint(
    obj: dict[str, Any], path: Path, reference_positive: str | None = None
) -> tuple["nn.Module", dict[str, Any]]:
    """Build the model a checkpoint describes and load its weights (no pretrained download).

    `reference_positive` (real|fake) stands in for a reference checkpoint's missing label_map."""
    from dfdetect.models import create_model

    if is_dfdetect_checkpoint(obj):
        config = checkpoint_config(obj)
        model = create_model(config["model"], pretrained=False, **config.get("model_options", {}))
        load_weights(model, obj["state_dict"], path)
        return model, config
    converted = _reference_to_model_state(obj, path, reference_positive)
    if converted is None:
        raise DfdetectError(
            f"{path}: not a dfdetect checkpoint nor one of the paper's reference code "
            "(expected best.ckpt/last.ckpt from `dfdetect train`)"
        )
    state, options = converted
    model = create_model("dual", pretrained=False, **options)
    load_weights(model, state, path)
    cfg = dict(getattr(model, "input_cfg", {}))
    config = {
        "model": "dual",
        "model_options": options,
        "img_size": cfg.get("img_size", 64),
        "frames": cfg.get("frames", 32),
        "mean": list(cfg.get("mean", (0.485, 0.456, 0.406))),
        "std": list(cfg.get("std", (0.229, 0.224, 0.225))),
        "pretrained": None,
        "loss": None,
        "source": "reference",
    }
    from dfdetect.models.reference import reference_input_config, trained_video_only

    config.update(reference_input_config())  # fed as the reference code fed it
    if trained_video_only(obj):
        config["frame_metrics"] = False  # its frame head exists but was never trained
    return model, config


def load_weights(model: "nn.Module", state: dict[str, Any], path: Path) -> None:
    """load_state_dict(strict) with a one-line error naming the first mismatching keys."""
    result_error: str | None = None
    try:
        unwrap(model).load_state_dict(state, strict=True)
    except RuntimeError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        result_error = "; ".join(lines[1:3])[:300] or lines[0][:300]
    if result_error:
        raise DfdetectError(f"{path}: weights do not fit the model ({result_error})")


def load_model(
    path_or_run: str | os.PathLike[str], device: "str | torch.device" = "cpu", reference_positive: str | None = None
) -> tuple["nn.Module", dict[str, Any]]:
    """RUN dir (-> best.ckpt), dfdetect checkpoint file or reference-code checkpoint ->
    (model in eval mode on `device`, config dict)."""
    path = resolve_checkpoint(path_or_run)
    model, config = build_from_checkpoint(read_checkpoint(path), path, reference_positive)
    model.to(device).eval()
    return model, config


def init_weights_from(model: "nn.Module", path: str | os.PathLike[str], reference_positive: str | None = None) -> str:
    """Load a dfdetect or reference-code checkpoint's weights into `model` (train --init-from).

    Returns a short description of the source. The architectures must match.
    """
    p = resolve_checkpoint(path)
    obj = read_checkpoint(p)
    if is_dfdetect_checkpoint(obj):
        load_weights(model, obj["state_dict"], p)
        return f"dfdetect checkpoint ({checkpoint_config(obj).get('model')})"
    converted = _reference_to_model_state(obj, p, reference_positive)
    if converted is None:
        raise DfdetectError(f"{p}: --init-from needs a dfdetect or reference-code checkpoint")
    load_weights(model, converted[0], p)
    return "reference-code checkpoint"


def extraction_defaults(config: dict[str, Any]) -> dict[str, Any]:
    """Extraction settings recorded in a checkpoint (crop scale and size of its training data)."""
    found: dict[str, Any] = {}
    nested = config.get("extraction") or config.get("extract") or {}
    for key in ("detector", "detector_model", "scale", "size", "frames"):
        value = nested.get(key) if isinstance(nested, dict) else None
        if value is None and key in ("scale", "size"):
            value = config.get(f"extract_{key}", config.get(f"crop_{key}", config.get(key) if key == "scale" else None))
        if value is not None:
            found[key] = value
    return found
