"""Render synthetic face clips (real or self-blended fake) to mp4 and whole labelled datasets.

A clip is one identity (see portrait.py) filmed by a smoothly moving camera: pan, zoom, a small
roll, a lighting gradient that drifts, sensor noise, a JPEG round trip per frame, then mp4v.
A fake clip of the same seed has exactly the same frames except inside the face, which is
self-blended per frame (see blend.py). Everything random is drawn from generators seeded by the arguments, so the same
arguments give the same bytes.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from dfdetect.errors import DfdetectError
from dfdetect.synth.blend import BlendParams, blend_region, hull_mask, strength_for
from dfdetect.synth.portrait import (
    FACE_ELLIPSE_AXES,
    FACE_SIDE,
    Identity,
    build_canvas,
    face_geometry,
)

# Separate random streams, so that e.g. a fake shares its real's camera path and noise exactly.
_STREAM_IDENTITY, _STREAM_MOTION, _STREAM_NOISE, _STREAM_BLEND = 11, 23, 37, 41


def default_face_scale(width: int, height: int) -> float:
    """Face box side as a fraction of the shorter frame side: 0.42 at 256 px easing to 0.28 from
    720 px up (HD footage), and never under ~84 px while the frame allows it, because dlib's HOG
    at upsample 0 misses faces under ~70 px (so 128x128 clips get a 0.66 close-up)."""
    short = min(width, height)
    t = float(np.clip((short - 256) / (720 - 256), 0.0, 1.0))
    fraction = 0.42 + t * (0.28 - 0.42)
    return max(fraction, min(84.0, 0.7 * short) / short)


@dataclass(frozen=True)
class CameraPath:
    """Smooth motion: sums of slow sinusoids for pan, zoom, roll and lighting."""

    center: tuple[float, float]
    pan_amp: tuple[float, float]
    pan_freq: tuple[float, float]
    pan_phase: tuple[float, float]
    face_px: float
    zoom_amp: float
    zoom_freq: float
    zoom_phase: float
    roll_amp: float  # degrees
    roll_freq: float
    roll_phase: float
    light_amp: float
    light_grad: float
    light_freq: float
    light_phase: float
    noise_sigma: float
    jpeg_quality: int  # the source footage's own compression, before the mp4 encode

    @classmethod
    def sample(cls, rng: np.random.Generator, width: int, height: int, face_px: float) -> "CameraPath":
        zoom_amp = float(rng.uniform(0.03, 0.08))
        # Keep the whole face box (with room for roll and zoom) inside the frame.
        reach = 0.5 * face_px * (1 + zoom_amp) * 1.25
        free_x, free_y = max(width / 2 - reach, 0.0), max(height / 2 - reach, 0.0)
        pan_amp = (float(min(free_x * 0.4, 0.12 * width)), float(min(free_y * 0.4, 0.12 * height)))
        offset_x = rng.uniform(-1, 1) * (free_x - pan_amp[0]) * 0.6
        offset_y = rng.uniform(-1, 1) * (free_y - pan_amp[1]) * 0.6
        return cls(
            center=(width / 2 + float(offset_x), height / 2 + float(offset_y)),
            pan_amp=(pan_amp[0] * float(rng.uniform(0.4, 1)), pan_amp[1] * float(rng.uniform(0.4, 1))),
            pan_freq=(float(rng.uniform(0.1, 0.35)), float(rng.uniform(0.1, 0.35))),
            pan_phase=(float(rng.uniform(0, 2 * np.pi)), float(rng.uniform(0, 2 * np.pi))),
            face_px=face_px,
            zoom_amp=zoom_amp,
            zoom_freq=float(rng.uniform(0.08, 0.3)),
            zoom_phase=float(rng.uniform(0, 2 * np.pi)),
            roll_amp=float(rng.uniform(1.5, 6.0)),
            roll_freq=float(rng.uniform(0.1, 0.4)),
            roll_phase=float(rng.uniform(0, 2 * np.pi)),
            light_amp=float(rng.uniform(0.03, 0.1)),
            light_grad=float(rng.uniform(0.05, 0.2)),
            light_freq=float(rng.uniform(0.1, 0.5)),
            light_phase=float(rng.uniform(0, 2 * np.pi)),
            noise_sigma=float(rng.uniform(1.5, 4.0)),
            jpeg_quality=int(rng.integers(70, 96)),
        )

    def pose(self, t: float) -> tuple[float, float, float, float]:
        """(centre x, centre y, face size in px, roll in degrees) at time t seconds."""
        cx = self.center[0] + self.pan_amp[0] * np.sin(2 * np.pi * self.pan_freq[0] * t + self.pan_phase[0])
        cy = self.center[1] + self.pan_amp[1] * np.sin(2 * np.pi * self.pan_freq[1] * t + self.pan_phase[1])
        size = self.face_px * (1 + self.zoom_amp * np.sin(2 * np.pi * self.zoom_freq * t + self.zoom_phase))
        roll = self.roll_amp * np.sin(2 * np.pi * self.roll_freq * t + self.roll_phase)
        return float(cx), float(cy), float(size), float(roll)


MAX_SIDE = 4096  # pixels per side: 4K (the mp4v writer and memory both draw the line near here)


def _check_args(width: int, height: int, n_frames: int, fps: float, difficulty: float) -> None:
    if width < 64 or height < 64 or width % 2 or height % 2:
        raise DfdetectError(f"synthetic frame size {width}x{height} is invalid; use even sizes of at least 64x64")
    if width > MAX_SIDE or height > MAX_SIDE:
        # larger frames exhaust memory and the mp4v writer refuses them anyway
        raise DfdetectError(f"synthetic frame size {width}x{height} is too large; at most {MAX_SIDE} pixels a side")
    if n_frames < 1:
        raise DfdetectError(f"n_frames must be at least 1, got {n_frames}")
    if fps <= 0:
        raise DfdetectError(f"fps must be positive, got {fps}")
    if not 0.0 <= difficulty <= 1.0:
        raise DfdetectError(f"difficulty must be in [0, 1], got {difficulty}")


def render_frames(
    *,
    identity_seed: int,
    blend_seed: int | None,
    width: int = 256,
    height: int = 256,
    n_frames: int = 48,
    fps: float = 25,
    difficulty: float = 0.5,
    face_scale: float | None = None,
) -> Iterator[np.ndarray]:
    """Yield RGB uint8 frames of one clip; `blend_seed=None` gives the real clip."""
    _check_args(width, height, n_frames, fps, difficulty)
    identity = Identity.sample(np.random.default_rng([identity_seed, _STREAM_IDENTITY]))
    scale = default_face_scale(width, height) if face_scale is None else float(face_scale)
    face_px = scale * min(width, height) * identity.size_jitter
    path = CameraPath.sample(np.random.default_rng([identity_seed, _STREAM_MOTION]), width, height, face_px)
    noise_rng = np.random.default_rng([identity_seed, _STREAM_NOISE])

    # The canvas must cover the frame's footprint at the smallest zoom, anywhere on the path.
    min_scale = face_px * (1 - path.zoom_amp) / FACE_SIDE
    pan = float(np.hypot(*path.pan_amp)) + float(np.hypot(path.center[0] - width / 2, path.center[1] - height / 2))
    half_extent = (0.5 * float(np.hypot(width, height)) + pan) / (min_scale * min(identity.aspect, 1.0)) + 8
    max_scale = face_px * (1 + path.zoom_amp) / FACE_SIDE * max(identity.aspect, 1.0)
    canvas = build_canvas(identity, half_extent, scale=min(1.0, max_scale * 1.05))
    (fcx, fcy), (ecx, ecy) = face_geometry(identity)
    ox, oy = canvas.origin
    face_in_canvas = np.array([fcx * canvas.scale + ox, fcy * canvas.scale + oy])

    # Sensor noise comes from a bank drawn once and read at a random offset per frame:
    # a fresh normal draw per 1080p frame would dominate the cost of the whole clip.
    margin = 32
    bank = noise_rng.normal(0.0, path.noise_sigma, size=(height + margin, width + margin, 3))
    noise_up = np.clip(bank, 0, 255).astype(np.uint8)
    noise_down = np.clip(-bank, 0, 255).astype(np.uint8)
    del bank
    # Lighting is smooth, so its gain field is computed on a coarse grid and upsampled.
    grid_w, grid_h = max(width // 16, 4), max(height // 16, 4)
    gy, gx = np.mgrid[0:grid_h, 0:grid_w].astype(np.float32)
    gx = (gx / (grid_w - 1) - 0.5) * width / max(width, height)
    gy = (gy / (grid_h - 1) - 0.5) * height / max(width, height)

    blend_rng = None if blend_seed is None else np.random.default_rng([blend_seed, _STREAM_BLEND])
    clip_params = None if blend_rng is None else BlendParams.sample(blend_rng, difficulty)

    for index in range(n_frames):
        t = index / fps
        cx, cy, size, roll = path.pose(t)
        s = size / FACE_SIDE
        c, si = np.cos(np.deg2rad(roll)), np.sin(np.deg2rad(roll))
        # Portrait point p -> frame: centre + R(roll) @ diag(s * aspect, s) @ (p - face centre).
        linear = np.array([[c * s * identity.aspect, -si * s], [si * s * identity.aspect, c * s]])
        matrix = linear / canvas.scale
        matrix = np.hstack([matrix, (np.array([cx, cy]) - matrix @ face_in_canvas)[:, None]])
        frame = cv2.warpAffine(
            canvas.image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )

        if clip_params is not None and blend_rng is not None:
            frame = _blend_face(
                frame, clip_params, blend_rng, difficulty, linear, (cx, cy), (ecx - fcx, ecy - fcy), s,
                identity.aspect, roll,
            )

        # Lighting: a global gain and a gradient whose direction turns slowly.
        phase = 2 * np.pi * path.light_freq * t + path.light_phase
        direction = phase * 0.5
        gain = (1.0 + path.light_amp * np.sin(phase)) + path.light_grad * (
            np.cos(direction) * gx + np.sin(direction) * gy
        )
        gain_u8 = np.repeat(np.clip(gain * 128.0 + 0.5, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
        gain_u8 = cv2.resize(gain_u8, (width, height), interpolation=cv2.INTER_LINEAR)
        frame = cv2.multiply(frame, gain_u8, scale=1.0 / 128.0, dtype=cv2.CV_8U)

        dy, dx = noise_rng.integers(0, margin, size=2)
        frame = cv2.add(frame, noise_up[dy : dy + height, dx : dx + width])
        frame = cv2.subtract(frame, noise_down[dy : dy + height, dx : dx + width])
        # A JPEG round trip per frame: fakes are re-compressed footage, and compression strength
        # varies across sources (like FF++ c23/c40), hiding the finest blending traces.
        ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, path.jpeg_quality])
        if ok:
            frame = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
        yield frame


def _blend_face(
    frame: np.ndarray,
    clip_params: BlendParams,
    rng: np.random.Generator,
    difficulty: float,
    linear: np.ndarray,
    face_center: tuple[float, float],
    ellipse_offset: tuple[float, float],
    s: float,
    aspect: float,
    roll: float,
) -> np.ndarray:
    """Self-blend the inner face of one frame, with this frame's flickered parameters."""
    params = clip_params.flicker(rng, difficulty)
    ex, ey = np.array(face_center) + linear @ np.array(ellipse_offset)
    axes = (FACE_ELLIPSE_AXES[0] * s * aspect, FACE_ELLIPSE_AXES[1] * s)
    height, width = frame.shape[:2]
    # The hull reaches 1.1x the axes and its feather 3 sigma beyond; nothing changes further out.
    pad = int(1.1 * max(axes) + 3 * params.feather * min(axes)) + 4
    x0, y0 = max(int(ex) - pad, 0), max(int(ey) - pad, 0)
    x1, y1 = min(int(ex) + pad, width), min(int(ey) + pad, height)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return frame
    roi = frame[y0:y1, x0:x1]
    local_center = (float(ex - x0), float(ey - y0))
    mask = hull_mask(roi.shape[:2], local_center, axes, roll, rng, params.mask_jitter, params.feather)
    out = frame.copy()
    out[y0:y1, x0:x1] = blend_region(roi, mask, params, local_center, face_size=FACE_SIDE * s)
    return out


def _write_mp4(path: Path, frames: Iterator[np.ndarray], width: int, height: int, fps: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename: a killed run never leaves a half clip under the real name.
    partial = path.with_name(f".{path.stem}.partial.mp4")
    writer = cv2.VideoWriter(str(partial), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (width, height))
    if not writer.isOpened():
        raise DfdetectError(f"{path}: OpenCV cannot open an mp4v writer here; check the folder is writable")
    try:
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    os.replace(partial, path)


def make_clip(
    path: str | os.PathLike[str],
    *,
    fake: bool,
    seed: int,
    width: int = 256,
    height: int = 256,
    n_frames: int = 48,
    fps: float = 25,
    difficulty: float = 0.5,
    face_scale: float | None = None,
) -> Path:
    """Write one synthetic face clip (mp4v) and return its path.

    The real clip and the fake clip of one seed share identity, camera path and noise; the fake
    differs only inside the face. `face_scale` is the face box side as a fraction of the shorter
    frame side (default: 0.42 at 256 px down to 0.28 from 720 px up). Same arguments, same bytes.
    """
    out = Path(path)
    frames = render_frames(
        identity_seed=seed,
        blend_seed=seed if fake else None,
        width=width,
        height=height,
        n_frames=n_frames,
        fps=fps,
        difficulty=difficulty,
        face_scale=face_scale,
    )
    _check_args(width, height, n_frames, fps, difficulty)
    _write_mp4(out, frames, width, height, fps)
    return out


def _derived_seed(seed: int, kind: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, kind, index]).generate_state(1)[0])


def make_dataset(
    out_dir: str | os.PathLike[str],
    *,
    n_real: int,
    n_fake: int,
    seed: int = 0,
    width: int = 256,
    height: int = 256,
    n_frames: int = 48,
    difficulty: float = 0.5,
    groups: bool = True,
    fps: float = 25,
    face_scale: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write `n_real` real and `n_fake` fake clips plus `videos.csv`; return the CSV path.

    Layout: OUT/real/real_000.mp4, OUT/fake/fake_000.mp4, OUT/videos.csv (path,label,group,method;
    paths relative to OUT). With `groups=True` fake j is a self-blend of real j % n_real and shares
    its group (the real clip's name), as FF++ fakes share their target's; with `groups=False`
    every fake is a fresh identity and its own group. `progress(done, total)` is called per clip.
    """
    if n_real < 0 or n_fake < 0 or n_real + n_fake == 0:
        raise DfdetectError(f"need a positive number of clips, got n_real={n_real}, n_fake={n_fake}")
    _check_args(width, height, n_frames, fps, difficulty)
    root = Path(out_dir)
    rows: list[dict[str, str]] = []
    total, done = n_real + n_fake, 0
    common = dict(width=width, height=height, n_frames=n_frames, fps=fps, difficulty=difficulty, face_scale=face_scale)

    for i in range(n_real):
        name = f"real_{i:03d}"
        frames = render_frames(identity_seed=_derived_seed(seed, 0, i), blend_seed=None, **common)  # type: ignore[arg-type]
        _write_mp4(root / "real" / f"{name}.mp4", frames, width, height, fps)
        rows.append({"path": f"real/{name}.mp4", "label": "real", "group": name, "method": "real"})
        done += 1
        if progress:
            progress(done, total)

    for j in range(n_fake):
        name = f"fake_{j:03d}"
        if groups:
            source = j % n_real if n_real else j
            identity_seed, group = _derived_seed(seed, 0, source), f"real_{source:03d}"
        else:
            identity_seed, group = _derived_seed(seed, 2, j), name
        frames = render_frames(identity_seed=identity_seed, blend_seed=_derived_seed(seed, 1, j), **common)  # type: ignore[arg-type]
        _write_mp4(root / "fake" / f"{name}.mp4", frames, width, height, fps)
        rows.append({"path": f"fake/{name}.mp4", "label": "fake", "group": group, "method": "selfblend"})
        done += 1
        if progress:
            progress(done, total)

    csv_path = root / "videos.csv"
    with open(csv_path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["path", "label", "group", "method"])
        writer.writeheader()
        writer.writerows(rows)
    return csv_path


__all__ = ["make_clip", "make_dataset", "render_frames", "default_face_scale", "strength_for"]
