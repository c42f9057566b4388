"""`train --ema DECAY`: validate and save an exponential moving average of the weights.

On a small training set the weights after any one epoch carry that epoch's batch noise, and the
epoch that best.ckpt keeps is picked on a small validation set, so two seeds of one recipe can land
far apart. Averaging the weights over the last steps smooths both. The average is timm's
`ModelEmaV3` with its warm-up (decay 1 - (1 + step)^-2/3, capped at DECAY): early in a run it
follows the weights closely, later it averages over more and more steps, so one DECAY suits runs of
very different lengths.

With --ema, validation, best.ckpt and last.ckpt's weights are the average; last.ckpt also keeps
the raw weights and the step count in its training state, so `--resume` continues both exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn


class WeightAverage:
    """The averaged copy of a model and the number of updates it has seen."""

    def __init__(self, model: "nn.Module", decay: float) -> None:
        from timm.utils import ModelEmaV3

        self._ema = ModelEmaV3(model, decay=decay, use_warmup=True)
        self.steps = 0

    @property
    def module(self) -> "nn.Module":
        return self._ema.module

    def update(self, model: "nn.Module") -> None:
        """Fold the model's current weights (and buffers: BN statistics) into the average."""
        self.steps += 1
        self._ema.update(model, step=self.steps)

    def state(self, model: "nn.Module") -> dict[str, Any]:
        """What last.ckpt's training state needs to resume: the raw weights and the step count."""
        # torch.save writes the tensors as they are now; no copy needed (cpu, as save_checkpoint's weights)
        return {"raw_weights": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "ema_steps": self.steps}

    def restore(self, averaged: dict[str, Any], state: dict[str, Any], model: "nn.Module", source: Any) -> None:
        """Put last.ckpt back: its weights are the average, its state holds the raw weights."""
        from dfdetect.checkpoint import load_weights
        from dfdetect.errors import DfdetectError

        if "raw_weights" not in state:
            raise DfdetectError(f"{source}: was trained without --ema, so it cannot be resumed with it")
        load_weights(self.module, averaged, source)
        load_weights(model, state["raw_weights"], source)
        self.steps = int(state["ema_steps"])
