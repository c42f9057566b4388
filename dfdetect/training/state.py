"""Optimiser, schedule, mixed precision and the resumable training state.

Everything that goes into last.ckpt is tensors or plain containers (loadable with
`torch.load(weights_only=True)`): RNG states are stored as tensors, the history as JSON text.
"""

from __future__ import annotations

import json
import random
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from dfdetect.training.config import TrainConfig

if TYPE_CHECKING:
    from pathlib import Path

    import torch
    from torch import nn

    from dfdetect.training.ema import WeightAverage


def make_optimizer(model: "nn.Module", config: TrainConfig) -> "torch.optim.Optimizer":
    import torch

    # frozen parameters (--freeze) are left out, so Adam keeps no state for them
    return torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=config.lr)


def make_scheduler(optimizer: "torch.optim.Optimizer", config: TrainConfig) -> Any:
    """Stepped once per epoch. step: x0.1 every third of the run."""
    import torch

    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    if config.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=max(1, config.epochs // 3), gamma=0.1)
    return None


def amp_setup(device: "torch.device") -> tuple[Callable[[], Any], Any, str]:
    """(autocast context factory, GradScaler, precision name). bf16 on CUDA where supported,
    else fp16 with loss scaling; fp32 elsewhere."""
    import torch

    if device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        scaler = torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)
        return (lambda: torch.autocast("cuda", dtype=dtype)), scaler, str(dtype).replace("torch.", "")
    return nullcontext, torch.amp.GradScaler("cpu", enabled=False), "fp32"


def capture_rng() -> dict[str, Any]:
    """Python, numpy and torch RNG states as tensors (for weights_only loading)."""
    import torch

    version, mt, gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": torch.tensor(list(mt), dtype=torch.int64),
        "python_version": int(version),
        "numpy": torch.from_numpy(np_keys.astype(np.int64)),
        "numpy_pos": int(np_pos),
        "numpy_gauss": [int(np_has_gauss), float(np_cached)],
        "torch": torch.get_rng_state(),
    }
    if gauss is not None:
        state["python_gauss"] = float(gauss)
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    import torch

    random.setstate((state["python_version"], tuple(int(v) for v in state["python"].tolist()), state.get("python_gauss")))
    has_gauss, cached = state["numpy_gauss"]
    np.random.set_state(("MT19937", state["numpy"].numpy().astype(np.uint32), state["numpy_pos"], has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def make_train_state(
    *,
    epoch: int,
    optimizer: Any,
    scheduler: Any,
    scaler: Any,
    best_metric: float | None,
    best_epoch: int | None,
    epochs_since_best: int,
    history: list[dict[str, Any]],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`extra`: more tensors or plain data to keep (--ema: the raw weights and step count)."""
    return {
        **(extra or {}),
        "epoch": epoch,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler.is_enabled() else None,
        "best_metric": best_metric,
        "best_epoch": best_epoch,
        "epochs_since_best": epochs_since_best,
        "history": json.dumps(history),
        "rng": capture_rng(),
    }


def restore_train_state(
    path: "Path", model: "nn.Module", optimizer: Any, scheduler: Any, scaler: Any, average: "WeightAverage | None" = None
) -> dict[str, Any]:
    """Load last.ckpt's weights and training state into the given objects (RNG included) and return
    the state's bookkeeping: epoch, best_metric, best_epoch, epochs_since_best, history (a list).
    With `average` (--ema's WeightAverage), the checkpoint's weights are the average and the raw
    weights come from the state."""
    from dfdetect.checkpoint import load_weights, read_checkpoint
    from dfdetect.errors import DfdetectError

    obj = read_checkpoint(path)
    state = obj.get("train_state")
    if not state:
        raise DfdetectError(f"{path}: holds no training state; it cannot be resumed")
    if average is not None:
        average.restore(obj["state_dict"], state, model, path)
    else:
        load_weights(model, obj["state_dict"], path)
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state.get("scheduler"):
        scheduler.load_state_dict(state["scheduler"])
    if state.get("scaler") and scaler.is_enabled():
        scaler.load_state_dict(state["scaler"])
    restore_rng(state["rng"])
    return {"epoch": int(state["epoch"]), "best_metric": state["best_metric"], "best_epoch": state["best_epoch"],
            "epochs_since_best": int(state["epochs_since_best"]), "history": json.loads(state["history"])}
