"""Self-blending: paste a slightly transformed copy of a face back onto itself.

This is the Face X-ray / Self-Blended Images recipe (Li et al. 2020; Shiohara & Yamasaki 2022):
the 'fake' keeps the identity but gains the traces every face swap leaves, a blending boundary
and a colour/geometry mismatch between the inner face and its surroundings.

`difficulty` in [0, 1] sets how subtle those traces are (1 = hardest). It maps to one strength

    strength = 0.08 + 0.92 * (1 - difficulty) ** 2      (difficulty 0 -> 1.0, 0.5 -> 0.31, 1 -> 0.08)

and every artefact scales with it, each drawn uniformly from [0.25, 1] x its maximum so that
some fakes of a set are much subtler than others:

    per-channel colour offset   up to 26 * strength grey levels
    per-channel gain            up to 1 +/- 0.12 * strength
    scale of the pasted copy    up to 1 +/- 0.07 * strength
    shift of the pasted copy    up to 3 % * strength of the face size
    blur of the pasted copy     sigma up to 1.4 * strength pixels (of a 128 px face)
    blend opacity               0.55 + 0.45 * strength, times a soft elliptical hull mask

In videos, the opacity, colour and mask jitter again in every frame (temporal flicker,
`FLICKER` x those values), as independent per-frame blending does in real face swaps.

Calibration (a 4-layer CNN from scratch, 64 px dlib crops of 128 px clips, 8 frames a video,
40 real + 40 fake training videos, test AUC on 40 + 40, one run each): 6 epochs gave 0.96 at
difficulty 0, 0.69 at 0.5, 0.57 at 0.75, 0.54 at 1; 15 epochs gave 0.91 at 0.25 and 0.77 at 0.5.
So the default 0.5 is learnable but far from solved; 0.75 and up is near chance for brief training.
With a benchmark-sized training set (57 real + 14 fake videos, 4 frames, 4 epochs) the same CNN
reached 0.80 at 0, 0.72 at 0.1, 0.62 at 0.25, 0.54 at 0.5 and 0.48 at 0.75.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

FLICKER = 0.25


def strength_for(difficulty: float) -> float:
    """Artefact strength for a difficulty in [0, 1] (documented above)."""
    if not 0.0 <= difficulty <= 1.0:
        raise ValueError(f"difficulty must be in [0, 1], got {difficulty}")
    return 0.08 + 0.92 * (1.0 - difficulty) ** 2


@dataclass(frozen=True)
class BlendParams:
    """One face's blend: how the pasted copy differs and how it is masked."""

    offset: tuple[float, float, float]  # added grey levels per channel
    gain: tuple[float, float, float]  # per-channel multiplier
    scale: float  # zoom of the pasted copy about the mask centre
    shift: tuple[float, float]  # of the pasted copy, as a fraction of the face size
    blur: float  # Gaussian sigma of the pasted copy, for a 128 px face
    opacity: float  # peak of the mask
    mask_jitter: float  # radial jitter of the hull points (fraction of the radius)
    feather: float  # mask blur sigma as a fraction of the smaller half-axis

    @classmethod
    def sample(cls, rng: np.random.Generator, difficulty: float) -> "BlendParams":
        k = strength_for(difficulty)

        def signed(maximum: float, size: int | None = None) -> np.ndarray:
            magnitude = rng.uniform(0.25, 1.0, size=size) * maximum
            return magnitude * rng.choice([-1.0, 1.0], size=size)

        return cls(
            offset=tuple(float(v) for v in signed(26.0 * k, 3)),  # type: ignore[arg-type]
            gain=tuple(float(1.0 + v) for v in signed(0.12 * k, 3)),  # type: ignore[arg-type]
            scale=float(1.0 + signed(0.07 * k)),
            shift=(float(signed(0.03 * k)), float(signed(0.03 * k))),
            blur=float(rng.uniform(0.0, 1.4 * k)),
            opacity=float(min(1.0, 0.55 + 0.45 * k)),
            mask_jitter=float(rng.uniform(0.03, 0.1)),
            feather=float(rng.uniform(0.12, 0.25)),
        )

    def flicker(self, rng: np.random.Generator, difficulty: float) -> "BlendParams":
        """This frame's parameters: the clip's, jittered (temporal inconsistency)."""
        k = strength_for(difficulty)
        noise = rng.normal(0.0, FLICKER, size=6)
        return replace(
            self,
            offset=tuple(o + 26.0 * k * FLICKER * n for o, n in zip(self.offset, rng.normal(0, 0.5, 3))),  # type: ignore[arg-type]
            scale=float(self.scale + 0.07 * k * FLICKER * noise[0]),
            shift=(self.shift[0] + 0.03 * k * FLICKER * noise[1], self.shift[1] + 0.03 * k * FLICKER * noise[2]),
            opacity=float(np.clip(self.opacity * (1.0 + 0.5 * noise[3]), 0.2, 1.0)),
        )


def hull_mask(
    shape: tuple[int, int],
    center: tuple[float, float],
    axes: tuple[float, float],
    angle_deg: float,
    rng: np.random.Generator,
    jitter: float,
    feather: float,
) -> np.ndarray:
    """A soft convex-hull mask (float32 in [0, 1]) around a jittered ellipse."""
    height, width = shape
    # Draw big masks small and upsample: the mask is smooth, and blurring at full size is slow.
    shrink = max(1.0, min(axes) / 24.0)
    if shrink > 1.0:
        small_shape = (max(int(round(height / shrink)), 2), max(int(round(width / shrink)), 2))
        small_center = ((center[0] + 0.5) / shrink - 0.5, (center[1] + 0.5) / shrink - 0.5)
        small_axes = (axes[0] / shrink, axes[1] / shrink)
        small = hull_mask(small_shape, small_center, small_axes, angle_deg, rng, jitter, feather)
        return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    n_points = 16
    theta = np.linspace(0.0, 2.0 * np.pi, n_points, endpoint=False) + rng.uniform(0, 2 * np.pi / n_points)
    radius = 1.0 + rng.uniform(-jitter, jitter, size=n_points)
    ax, ay = axes
    x = ax * radius * np.cos(theta)
    y = ay * radius * np.sin(theta)
    c, s = np.cos(np.deg2rad(angle_deg)), np.sin(np.deg2rad(angle_deg))
    points = np.stack([center[0] + c * x - s * y, center[1] + s * x + c * y], axis=1)
    hull = cv2.convexHull(np.round(points * 16).astype(np.int32))
    mask = np.zeros((height, width), np.uint8)
    cv2.fillConvexPoly(mask, hull, 255, lineType=cv2.LINE_AA, shift=4)
    sigma = max(feather * min(ax, ay), 0.5)
    mask = cv2.GaussianBlur(mask, (0, 0), sigmaX=sigma)
    return mask.astype(np.float32) * (1.0 / 255.0)


def blend_region(
    target: np.ndarray,
    mask: np.ndarray,
    params: BlendParams,
    center: tuple[float, float],
    face_size: float,
) -> np.ndarray:
    """Blend `target` (uint8 HxWx3) with a transformed copy of itself under `mask` x opacity.

    Stays in uint8 with OpenCV kernels (a LUT for the colour change, blendLinear for the mix):
    this runs once per fake frame and float numpy passes made it the generator's hot spot."""
    levels = np.arange(256, dtype=np.float32)[:, None]
    lut = np.clip(levels * np.asarray(params.gain, np.float32) + np.asarray(params.offset, np.float32) + 0.5, 0, 255)
    source = cv2.LUT(target, lut.astype(np.uint8).reshape(256, 1, 3))
    sigma = params.blur * face_size / 128.0
    if sigma > 0.3:
        source = cv2.GaussianBlur(source, (0, 0), sigmaX=sigma)
    # Zoom about the mask centre and shift: the pasted face is slightly misaligned.
    dx, dy = params.shift[0] * face_size, params.shift[1] * face_size
    sc = params.scale
    matrix = np.array(
        [[sc, 0.0, (1 - sc) * center[0] + dx], [0.0, sc, (1 - sc) * center[1] + dy]], np.float32
    )
    height, width = target.shape[:2]
    source = cv2.warpAffine(source, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    alpha = np.ascontiguousarray(mask * np.float32(params.opacity), dtype=np.float32)
    return cv2.blendLinear(source, target, alpha, 1.0 - alpha)


def self_blend(face: np.ndarray, rng: np.random.Generator, difficulty: float = 0.5) -> np.ndarray:
    """Face X-ray / SBI-style fake from a face crop (uint8 HxWx3, the face roughly centred).

    No detector needed: the mask is a jittered soft hull around a centred ellipse covering the
    inner face of a crop made at about 1.3x the detector box. Returns a new uint8 array of the
    same shape; `rng` alone decides the randomness.
    """
    if face.ndim != 3 or face.shape[2] != 3 or face.dtype != np.uint8:
        raise ValueError(f"self_blend expects a uint8 (H, W, 3) array, got {face.dtype} {face.shape}")
    height, width = face.shape[:2]
    params = BlendParams.sample(rng, difficulty)
    center = (width * (0.5 + rng.uniform(-0.03, 0.03)), height * (0.53 + rng.uniform(-0.03, 0.03)))
    axes = (width * 0.29 * rng.uniform(0.85, 1.12), height * 0.36 * rng.uniform(0.85, 1.12))
    mask = hull_mask(
        (height, width), center, axes, float(rng.uniform(-8, 8)), rng, params.mask_jitter, params.feather
    )
    return blend_region(np.ascontiguousarray(face), mask, params, center, face_size=float(min(height, width)) / 1.3)
