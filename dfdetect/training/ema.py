"""`train --ema DECAY`: validate and save an exponential moving average of the weights.

On a small training set the weights after any one epoch carry that epoch's batch noise, and the
epoch that best.ckpt keeps is picked on a small validation set, so two seeds of one recipe can land
far apart. Averaging the weights over the last steps smooths both. The average is timm's
`ModelEmaV3`; its first update copies the weights, and update number s (s >= 2) mixes them in with

- warm-up (the default, `--ema-warmup`): decay min(DECAY, 1 - s^-2/3): 0.90 at update 30, 0.95 at
  90, 0.98 at 354, 0.984 at 504. DECAY is reached only after `warmup_steps(DECAY)` updates (0.99:
  1,000; 0.999: 31,623), so on a run shorter than that every DECAY above the last update's decay
  gives the same weights, and the effective decay is the warm-up's, not DECAY;
- `--no-ema-warmup`: decay DECAY from update 2 on, so the average spans about 1 / (1 - DECAY)
  updates (0.99: the last ~100), whatever the run's length.

The trainer warns up front when warm-up keeps a run below DECAY, and logs the decay of the last
update at the end of every epoch.

With --ema, validation, best.ckpt and last.ckpt's weights are the average; last.ckpt also keeps
the raw weights and the step count in its training state, so `--resume` continues both exactly.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

WARMUP_POWER = 2 / 3  # timm's ModelEmaV3 default
EMA_HELP = (
    "Validate and save a moving average of the weights with this decay, e.g. 0.99. With the warm-up "
    "(default) the decay at update s is min(DECAY, 1 - s^-2/3): 0.98 after ~350 updates, DECAY 0.999 only "
    "after 31,623, so on short runs any DECAY above that gives the same weights (a warning says so); "
    "--no-ema-warmup uses DECAY throughout. Each epoch's log line shows the decay in effect."
)


def decay_at(step: int, decay: float, warmup: bool = True) -> float:
    """The decay of update number `step` (1-based), as timm's ModelEmaV3 computes it."""
    if step <= 1:
        return 0.0  # the first update copies the weights
    if not warmup:
        return decay
    return min(decay, 1.0 - step ** -WARMUP_POWER)


def warmup_steps(decay: float) -> int:
    """The first update at which the warm-up reaches `decay`."""
    step = max(2, math.ceil((1.0 - decay) ** (-1.0 / WARMUP_POWER) - 1e-9))
    while decay_at(step, decay) < decay:  # float rounding at the boundary
        step += 1
    return step


def short_run_warning(decay: float, warmup: bool, total_steps: int) -> str | None:
    """What to tell a user whose run ends before the warm-up reaches DECAY; None when it does not."""
    if not warmup or total_steps <= 0:
        return None
    reach = warmup_steps(decay)
    if total_steps >= reach:
        return None
    return (
        f"--ema {decay}: with the warm-up the decay reaches {decay} only after {reach:,} updates; this run has "
        f"{total_steps:,}, so it ends at {decay_at(total_steps, decay):.4f} and any --ema above that gives the same "
        "weights; add --no-ema-warmup to average with the decay given"
    )


class WeightAverage:
    """The averaged copy of a model and the number of updates it has seen."""

    def __init__(self, model: "nn.Module", decay: float, warmup: bool = True) -> None:
        from timm.utils import ModelEmaV3

        self._ema = ModelEmaV3(model, decay=decay, use_warmup=warmup, warmup_power=WARMUP_POWER)
        self.target = decay
        self.warmup = warmup
        self.steps = 0

    @property
    def decay(self) -> float:
        """The decay of the latest update (what --ema means at this point of the run)."""
        return decay_at(self.steps, self.target, self.warmup)

    def describe(self) -> str:
        """For the epoch log: the decay in effect and, under warm-up, how far DECAY is."""
        text = f"ema_decay {self.decay:.4f}"
        if self.warmup and self.decay < self.target:
            text += f" (--ema {self.target} from update {warmup_steps(self.target):,})"
        return text

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
