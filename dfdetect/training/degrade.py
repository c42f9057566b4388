"""Training-time degradations of real-world video, one draw per clip (issue 24 §2).

A temporal model must see one coherent clip, so each degradation is decided, and its strength
drawn, once per clip and applied to every frame (noise is fresh per pixel, its level per clip).
The list and its probabilities follow the DFDC winner's training transforms
(selimsef/dfdc_deepfake_challenge, training/pipelines/train_classifier.py, create_train_transforms):
  ImageCompression(quality_lower=60, quality_upper=100, p=0.5)  -> `jpeg`  p 0.5, quality 60-100
  GaussNoise(p=0.1)  (albumentations' var_limit 10-50)          -> `noise` p 0.1, variance 10-50
  GaussianBlur(blur_limit=3, p=0.05)                            -> `blur`  p 0.05, kernel 3
  OneOf(IsotropicResize with 3 interpolation pairs)             -> `downscale`'s interpolations
  OneOf(RandomBrightnessContrast, FancyPCA, HueSaturationValue, p=0.7) -> the existing `color`
The winner's crops were resized but not degraded in resolution, and it had no video codec; ours
adds `downscale` (p 0.3: down to 0.4-0.9 of the side, back up, one of its interpolation pairs)
and `h264` (p 0.3: a real libx264 encode and decode of the clip at a CRF drawn from 23-40, FF++'s
c23 to c40). Both probabilities are our choice. `degrade` turns on all five.
They act on the clip the model sees (already resized to --img-size), after flip and colour.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

DEGRADATIONS = ("downscale", "blur", "noise", "h264", "jpeg")  # applied in this order: capture, then codecs
ALL_DEGRADATIONS = "degrade"
DEGRADE_AUGMENTATIONS = (*DEGRADATIONS, ALL_DEGRADATIONS)  # the names `train --augment` accepts

P_JPEG, JPEG_QUALITY = 0.5, (60, 100)
P_NOISE, NOISE_VAR = 0.1, (10.0, 50.0)
P_BLUR, BLUR_KERNEL = 0.05, 3
P_DOWNSCALE, DOWNSCALE_RANGE = 0.3, (0.4, 0.9)
P_H264, H264_CRF = 0.3, (23, 40)
# (down, up) interpolation pairs of the winner's IsotropicResize choices (cv2 constants by name)
_RESIZE_PAIRS = (("INTER_AREA", "INTER_CUBIC"), ("INTER_AREA", "INTER_LINEAR"), ("INTER_LINEAR", "INTER_LINEAR"))


def enabled(augment: Sequence[str]) -> tuple[str, ...]:
    """The degradations that `augment` turns on, in application order."""
    names = set(augment)
    return tuple(d for d in DEGRADATIONS if d in names or ALL_DEGRADATIONS in names)


def jpeg_clip(clip: np.ndarray, quality: int) -> np.ndarray:
    import cv2

    out = np.empty_like(clip)
    for i, frame in enumerate(clip):
        ok, buf = cv2.imencode(".jpg", frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        out[i] = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1] if ok else frame
    return out


def downscale_clip(clip: np.ndarray, scale: float, pair: int = 0) -> np.ndarray:
    import cv2

    down, up = (getattr(cv2, name) for name in _RESIZE_PAIRS[pair % len(_RESIZE_PAIRS)])
    h, w = clip.shape[1:3]
    size = (max(2, int(round(w * scale))), max(2, int(round(h * scale))))
    return np.stack([cv2.resize(cv2.resize(f, size, interpolation=down), (w, h), interpolation=up) for f in clip])


def blur_clip(clip: np.ndarray, kernel: int = BLUR_KERNEL) -> np.ndarray:
    import cv2

    return np.stack([cv2.GaussianBlur(f, (kernel, kernel), 0) for f in clip])


def noise_clip(clip: np.ndarray, variance: float, rng: np.random.Generator) -> np.ndarray:
    noisy = clip.astype(np.float32) + rng.standard_normal(clip.shape, dtype=np.float32) * np.float32(np.sqrt(variance))
    return np.clip(noisy, 0, 255).round().astype(np.uint8)


def h264_clip(clip: np.ndarray, crf: int) -> np.ndarray:
    """A real libx264 encode and decode of the clip (dfdetect.robustness.ffmpeg)."""
    from dfdetect.robustness.ffmpeg import h264_roundtrip

    return h264_roundtrip(np.ascontiguousarray(clip), crf)


def degrade_clip(clip: np.ndarray, rng: np.random.Generator, augment: Sequence[str]) -> np.ndarray:
    """Apply the enabled degradations to a uint8 (T, H, W, 3) RGB clip, each decided once per clip.

    Every enabled degradation draws its coin (and parameters) from `rng` whether or not it fires,
    so one clip's draws never shift another degradation's."""
    for name in enabled(augment):
        if name == "downscale":
            fire, scale, pair = rng.random() < P_DOWNSCALE, rng.uniform(*DOWNSCALE_RANGE), int(rng.integers(3))
            clip = downscale_clip(clip, scale, pair) if fire else clip
        elif name == "blur":
            clip = blur_clip(clip) if rng.random() < P_BLUR else clip
        elif name == "noise":
            fire, variance = rng.random() < P_NOISE, rng.uniform(*NOISE_VAR)
            noise_rng = np.random.default_rng(rng.integers(2**63))
            clip = noise_clip(clip, variance, noise_rng) if fire else clip
        elif name == "h264":
            fire, crf = rng.random() < P_H264, int(rng.integers(H264_CRF[0], H264_CRF[1] + 1))
            clip = h264_clip(clip, crf) if fire else clip
        elif name == "jpeg":
            fire, quality = rng.random() < P_JPEG, int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1))
            clip = jpeg_clip(clip, quality) if fire else clip
    return np.ascontiguousarray(clip)
