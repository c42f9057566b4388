"""Clip-level augmentation for training: one random draw per clip, applied to every frame.

A temporal model must see a coherent clip, so a flip or a colour change is the same on all
frames. `xray` (Face X-ray style) turns a real clip into a fake one by blending each face with a
transformed copy of itself through an elliptical mask, with the same blend parameters on every
frame; `sbi` does the same the Self-Blended Images way (landmark hull masks, source-target
augmentation, SBI's blend ratios: dfdetect/synth/sbi.py).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from dfdetect.errors import UsageError
from dfdetect.training.degrade import DEGRADE_AUGMENTATIONS

# + real-world degradations, one draw per clip (dfdetect/training/degrade.py; `degrade` = all of them)
AUGMENTATIONS = ("none", "flip", "color", "xray", "sbi", *DEGRADE_AUGMENTATIONS)
BLENDS = ("xray", "sbi")  # augmentations that add one self-blended fake per real clip
DEFAULT_AUGMENT = ("flip", "color")
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def parse_augment(spec: str | Sequence[str]) -> tuple[str, ...]:
    """'flip,color,xray' or ['flip', 'xray'] -> validated tuple; 'none' alone means no augmentation."""
    items = spec.split(",") if isinstance(spec, str) else [p for s in spec for p in str(s).split(",")]
    names = tuple(dict.fromkeys(i.strip().lower() for i in items if i.strip()))
    unknown = [n for n in names if n not in AUGMENTATIONS]
    if unknown:
        raise UsageError(f"unknown --augment '{unknown[0]}'; choose from {', '.join(AUGMENTATIONS)} (comma-separated)")
    return tuple(n for n in names if n != "none")


def color_jitter(clip: np.ndarray, rng: np.random.Generator, strength: float = 0.2) -> np.ndarray:
    """Brightness, contrast and saturation factors drawn once and applied to the whole clip."""
    b, c, s = rng.uniform(1 - strength, 1 + strength, size=3).astype(np.float32)
    x = clip.astype(np.float32)
    x *= b
    gray = x @ _LUMA
    x = (x - gray.mean()) * c + gray.mean()
    gray = (x @ _LUMA)[..., None]
    x = (x - gray) * s + gray
    return np.clip(x, 0, 255, out=x).round().astype(np.uint8)


def xray_blend(clip: np.ndarray, rng: np.random.Generator, difficulty: float = 0.5) -> np.ndarray:
    """Self-blend every frame with the same blend parameters (one seed per clip)."""
    from dfdetect.synth import self_blend

    clip_seed = int(rng.integers(0, 2**63 - 1))
    return np.stack([self_blend(np.ascontiguousarray(f), np.random.default_rng(clip_seed), difficulty) for f in clip])


def augment_clip(
    clip: np.ndarray, rng: np.random.Generator, augment: Sequence[str], *, blend: bool = False,
    scale: float | None = None,
) -> np.ndarray:
    """Apply the chosen augmentations to a uint8 (T, H, W, 3) clip; `blend` makes it an x-ray fake.
    `scale`: the crop scale the clip was extracted at (the manifest's `scale`), which SBI needs to
    find the face box inside the crop; None means extract's default."""
    if blend:
        if "sbi" in augment:
            from dfdetect.synth.sbi import sbi_blend_clip

            clip = sbi_blend_clip(clip, rng, scale)
        else:
            clip = xray_blend(clip, rng)
    if "flip" in augment and rng.random() < 0.5:
        clip = clip[:, :, ::-1]
    if "color" in augment and rng.random() < 0.8:
        clip = color_jitter(clip, rng)
    if set(DEGRADE_AUGMENTATIONS) & set(augment):  # drawn last: the other draws stay as they were
        from dfdetect.training.degrade import degrade_clip

        clip = degrade_clip(clip, rng, augment)
    return np.ascontiguousarray(clip)
