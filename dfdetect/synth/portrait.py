"""The source portrait and per-identity variations of it.

Every synthetic clip starts from the one real portrait matplotlib ships (grace_hopper.jpg, a
photo dlib's HOG detector finds). An *identity* is a seeded variation of it (mirror, colour
cast, hue, gamma, face aspect, background) placed on a wide canvas, so the camera can pan and
zoom over it at any output resolution without ever showing a mirrored second face.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from dfdetect.errors import DfdetectError

# Geometry of the face in the original 512x600 portrait, in its pixel coordinates.
# FACE_BOX is dlib's frontal detection (upsample 0); the ellipse covers the inner face
# (brows to chin, cheek to cheek), which is where a face swap pastes its pixels.
PORTRAIT_SIZE = (512, 600)  # (width, height)
FACE_BOX = (161.0, 137.0, 376.0, 352.0)  # x0, y0, x1, y1
FACE_CENTER = (268.0, 245.0)
FACE_SIDE = 215.0
FACE_ELLIPSE_CENTER = (266.0, 250.0)
FACE_ELLIPSE_AXES = (80.0, 100.0)  # half-axes (x, y)


def _portrait_path() -> Path:
    # Find the file without importing matplotlib (slow, and heavy imports stay out of dfdetect).
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.submodule_search_locations:
        for root in spec.submodule_search_locations:
            candidate = Path(root) / "mpl-data" / "sample_data" / "grace_hopper.jpg"
            if candidate.is_file():
                return candidate
    raise DfdetectError(
        "grace_hopper.jpg not found in matplotlib's sample data; the synthetic generator needs it "
        "(reinstall matplotlib: pip install --force-reinstall matplotlib)"
    )


@functools.lru_cache(maxsize=1)
def load_portrait() -> np.ndarray:
    """The source portrait as an RGB uint8 array (600, 512, 3); decoded once per process."""
    path = _portrait_path()
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise DfdetectError(f"{path}: cannot decode the sample portrait; reinstall matplotlib")
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    rgb.setflags(write=False)  # shared by every clip: nobody may modify the cached copy
    return rgb


@dataclass(frozen=True)
class Identity:
    """A seeded variation of the portrait: what makes one synthetic 'person' differ from another."""

    flip: bool
    channel_gain: tuple[float, float, float]
    hue_shift: int  # OpenCV hue units (180 = full circle)
    saturation: float
    gamma: float
    aspect: float  # horizontal stretch of the whole portrait (face width / height)
    size_jitter: float  # multiplies the face size in the frame
    background_seed: int
    shape_seed: int  # a smooth warp of the face: eye spacing, jaw, nose differ a little

    @classmethod
    def sample(cls, rng: np.random.Generator) -> "Identity":
        return cls(
            flip=bool(rng.random() < 0.5),
            channel_gain=tuple(float(g) for g in rng.uniform(0.88, 1.12, size=3)),  # type: ignore[arg-type]
            hue_shift=int(rng.integers(-8, 9)),
            saturation=float(rng.uniform(0.75, 1.2)),
            gamma=float(rng.uniform(0.85, 1.18)),
            aspect=float(rng.uniform(0.92, 1.08)),
            size_jitter=float(rng.uniform(0.9, 1.1)),
            background_seed=int(rng.integers(0, 2**31 - 1)),
            shape_seed=int(rng.integers(0, 2**31 - 1)),
        )


def _recolor(rgb: np.ndarray, identity: Identity) -> np.ndarray:
    out = rgb
    if identity.hue_shift or identity.saturation != 1.0:
        hsv = cv2.cvtColor(out, cv2.COLOR_RGB2HSV)
        hue = (hsv[..., 0].astype(np.int16) + identity.hue_shift) % 180
        hsv[..., 0] = hue.astype(np.uint8)
        hsv[..., 1] = np.clip(hsv[..., 1].astype(np.float32) * identity.saturation, 0, 255).astype(np.uint8)
        out = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    # One lookup table per channel folds gain and gamma into a single cheap pass.
    levels = np.arange(256, dtype=np.float32) / 255.0
    tables = [
        np.clip(255.0 * gain * levels**identity.gamma, 0, 255).astype(np.uint8)
        for gain in identity.channel_gain
    ]
    channels = [cv2.LUT(out[..., c].copy(), tables[c]) for c in range(3)]
    out = cv2.merge(channels)
    if identity.flip:
        out = np.ascontiguousarray(out[:, ::-1])
    return out


def _reshape_face(rgb: np.ndarray, seed: int, scale: float = 1.0) -> np.ndarray:
    """Warp the face by a smooth random displacement (up to ~4 % of its size), fading out away
    from it, so identities differ in face geometry and not only in colour. `rgb` is the
    unmirrored portrait resized by `scale`; the same seed gives the same shape at any scale."""
    rng = np.random.default_rng(seed)
    grid = rng.uniform(-1.0, 1.0, size=(2, 4, 4)).astype(np.float32) * (0.04 * FACE_SIDE * scale)
    height, width = rgb.shape[:2]
    side = int(FACE_SIDE * 1.5 * scale)
    x0 = int((FACE_CENTER[0] - FACE_SIDE * 0.75) * scale)
    y0 = int((FACE_CENTER[1] - FACE_SIDE * 0.75) * scale)
    x1, y1 = min(x0 + side, width), min(y0 + side, height)
    if side < 8 or x1 <= x0 or y1 <= y0:
        return rgb
    window = np.sin(np.linspace(0, np.pi, side, dtype=np.float32)) ** 2  # 0 at the patch edge
    taper = (window[:, None] * window[None, :])[: y1 - y0, : x1 - x0]
    dx = cv2.resize(grid[0], (side, side), interpolation=cv2.INTER_CUBIC)[: y1 - y0, : x1 - x0] * taper
    dy = cv2.resize(grid[1], (side, side), interpolation=cv2.INTER_CUBIC)[: y1 - y0, : x1 - x0] * taper
    # Only the face patch moves: remap it alone, sampling from the whole image.
    map_y, map_x = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    out = rgb.copy()
    out[y0:y1, x0:x1] = cv2.remap(rgb, map_x + dx, map_y + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return out


def _background(height: int, width: int, seed: int) -> np.ndarray:
    """A smooth, seeded 'room': colour blobs plus a few soft-edged panels, drawn at 1/4 scale."""
    rng = np.random.default_rng(seed)
    small_h, small_w = max(height // 4, 8), max(width // 4, 8)
    base = rng.uniform(40, 200, size=3)
    blobs = rng.uniform(-50, 50, size=(4, 5, 3)).astype(np.float32)
    field = cv2.resize(blobs, (small_w, small_h), interpolation=cv2.INTER_CUBIC)
    img = np.clip(field + base.astype(np.float32), 0, 255)
    for _ in range(int(rng.integers(2, 6))):
        x0, x1 = sorted(rng.integers(0, small_w, size=2))
        y0, y1 = sorted(rng.integers(0, small_h, size=2))
        colour = tuple(float(c) for c in rng.uniform(20, 230, size=3))
        cv2.rectangle(img, (int(x0), int(y0)), (int(x1), int(y1)), colour, thickness=-1)
    img = cv2.GaussianBlur(img, (0, 0), sigmaX=1.5)
    return cv2.resize(img.astype(np.uint8), (width, height), interpolation=cv2.INTER_LINEAR)


@dataclass
class Canvas:
    """The identity's portrait on its background."""

    image: np.ndarray  # RGB uint8
    origin: tuple[float, float]  # canvas pixel of portrait (0, 0)
    scale: float  # canvas pixels per portrait pixel


def _ramp(n: int, start: int, stop: int, feather: int) -> np.ndarray:
    """1 on [start, stop), fading to 0 over `feather` samples outside it (smoothstep)."""
    idx = np.arange(n, dtype=np.float32)
    below = np.clip((idx - (start - feather)) / max(feather, 1), 0, 1)
    above = np.clip(((stop + feather) - idx) / max(feather, 1), 0, 1)
    t = np.minimum(below, above)
    return t * t * (3 - 2 * t)


def build_canvas(identity: Identity, half_extent: float, scale: float = 1.0) -> Canvas:
    """Place the recoloured portrait, resized by `scale`, on a background reaching `half_extent`
    portrait pixels from the face centre in every direction (the whole camera path).

    Canvas pixels are portrait pixels times `scale`; pre-shrinking for small frames keeps the
    per-frame warp cheap and free of aliasing."""
    portrait = load_portrait()
    if scale < 1.0:  # shrink first: the per-identity edits then touch fewer pixels
        portrait = cv2.resize(portrait, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    else:
        scale = 1.0
    portrait = _recolor(_reshape_face(portrait, identity.shape_seed, scale), identity)
    ph, pw = portrait.shape[:2]
    cx, cy = face_geometry(identity)[0]
    cx, cy, reach = cx * scale, cy * scale, half_extent * scale
    left = max(int(np.ceil(reach - cx)), 0)
    right = max(int(np.ceil(reach - (pw - cx))), 0)
    top = max(int(np.ceil(reach - cy)), 0)
    bottom = max(int(np.ceil(reach - (ph - cy))), 0)
    stretched = cv2.copyMakeBorder(portrait, top, bottom, left, right, cv2.BORDER_REPLICATE)
    height, width = stretched.shape[:2]
    # The portrait (its body replicated downwards) fades into the room at its sides and top.
    feather = max(int(40 * scale), 2)
    alpha_x = _ramp(width, left + feather, left + pw - feather, feather)
    alpha_y = _ramp(height, top + feather, height + feather, feather)
    alpha = np.ascontiguousarray(alpha_y[:, None] * alpha_x[None, :])
    background = _background(height, width, identity.background_seed)
    image = cv2.blendLinear(stretched, background, alpha, 1.0 - alpha)
    return Canvas(image=image, origin=(float(left), float(top)), scale=scale)


def face_geometry(identity: Identity) -> tuple[tuple[float, float], tuple[float, float]]:
    """Face centre and inner-face ellipse centre in the identity's (possibly mirrored) portrait."""
    cx, cy = FACE_CENTER
    ex, ey = FACE_ELLIPSE_CENTER
    if identity.flip:
        width = PORTRAIT_SIZE[0]
        cx, ex = width - 1 - cx, width - 1 - ex
    return (cx, cy), (ex, ey)
