"""Training: `TrainConfig` (every option of `dfdetect train`) and `train(config) -> TrainResult`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dfdetect.training.config import TrainConfig, resume_config

if TYPE_CHECKING:
    from dfdetect.training.engine import TrainResult

__all__ = ["TrainConfig", "TrainResult", "resume_config", "train"]


def train(config: TrainConfig) -> "TrainResult":
    from dfdetect.training.engine import train as _train

    return _train(config)


def __getattr__(name: str) -> Any:
    if name == "TrainResult":
        from dfdetect.training.engine import TrainResult

        return TrainResult
    raise AttributeError(name)
