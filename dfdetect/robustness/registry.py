"""The perturbation registry: name -> how to degrade a video, with its five levels.

Filled by `@register_perturbation` where each perturbation is defined (`distortions.py`: one
frame at a time; `video.py`: whole-video re-encodes). `dfdetect.robustness.spec` imports both and
is the one door in (parse a SPEC, list what exists).

Two kinds:
- "frame": `apply(frame_bgr, param, rng) -> frame_bgr`, each frame on its own (a per-frame seeded
  `rng` for the random ones);
- "video": `apply(src, dst, param)` writes the degraded video (an encoder sees the whole stream).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from dfdetect.registry import Registry

FRAME, VIDEO = "frame", "video"
N_LEVELS = 5

PERTURBATIONS: Registry[Callable[..., Any]] = Registry("perturbation")


@dataclass(frozen=True)
class Perturbation:
    """A registered perturbation: its levels' parameters (level 1 = mildest, 5 = worst)."""

    name: str
    kind: str
    params: tuple[Any, ...]
    param_name: str
    description: str
    random: bool
    order: int
    apply: Callable[..., Any]

    @property
    def levels(self) -> tuple[int, ...]:
        return tuple(range(1, len(self.params) + 1))

    def param(self, level: int) -> Any:
        return self.params[level - 1]


def register_perturbation(name: str, *, kind: str, params: Sequence[Any], param_name: str, description: str,
                          random: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `apply` under `name` with one parameter per level (N_LEVELS of them)."""
    if len(params) != N_LEVELS or kind not in (FRAME, VIDEO):
        raise ValueError(f"perturbation {name}: {N_LEVELS} levels of kind frame|video expected")
    return PERTURBATIONS.register(name, description, kind=kind, params=tuple(params), param_name=param_name,
                                  random=random, order=len(PERTURBATIONS))


def get_perturbation(name: str) -> Perturbation:
    """The registered perturbation; an unknown name is a UsageError naming the valid ones."""
    entry = PERTURBATIONS.entry(name)
    info = entry.info
    return Perturbation(entry.name, info["kind"], info["params"], info["param_name"], entry.description,
                        info["random"], info["order"], entry.factory)


def all_perturbations() -> list[Perturbation]:
    """Every registered perturbation in registration order (DeeperForensics' seven first)."""
    return sorted((get_perturbation(e.name) for e in PERTURBATIONS), key=lambda p: p.order)
