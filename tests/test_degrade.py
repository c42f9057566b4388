"""Training-time degradations (`train --augment jpeg,downscale,blur,noise,h264` or `degrade`)."""

from __future__ import annotations

import numpy as np
import pytest

from dfdetect.errors import UsageError
from dfdetect.training import degrade
from dfdetect.training.augment import augment_clip, parse_augment


def _clip(frames: int = 8, side: int = 32, seed: int = 0, same: bool = False) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.integers(20, 235, (4, 4, 3), dtype=np.uint8), (side, side), interpolation=cv2.INTER_CUBIC)
    base = np.clip(base.astype(int) + rng.integers(-20, 21, base.shape), 0, 255).astype(np.uint8)  # fine detail
    return np.stack([base if same else np.roll(base, i, axis=1) for i in range(frames)])


def test_augment_names_parse():
    assert parse_augment("flip,color,degrade") == ("flip", "color", "degrade")
    assert degrade.enabled(parse_augment("degrade")) == degrade.DEGRADATIONS
    assert degrade.enabled(["jpeg", "h264"]) == ("h264", "jpeg")
    with pytest.raises(UsageError, match="h264"):
        parse_augment("h265")


@pytest.mark.parametrize("name", ["jpeg", "downscale", "blur", "noise", "h264"])
def test_each_degradation_changes_pixels_keeps_shape(name):
    clip = _clip()
    rng = np.random.default_rng(0)
    out = {"jpeg": lambda: degrade.jpeg_clip(clip, 60), "downscale": lambda: degrade.downscale_clip(clip, 0.4),
           "blur": lambda: degrade.blur_clip(clip), "noise": lambda: degrade.noise_clip(clip, 50.0, rng),
           "h264": lambda: degrade.h264_clip(clip, 40)}[name]()
    assert out.shape == clip.shape and out.dtype == np.uint8
    assert np.abs(out.astype(int) - clip).mean() > 1.0


def test_one_draw_per_clip_and_seeded():
    """A clip of identical frames stays identical frame to frame (the same draw on every frame),
    the same seed gives the same clip, and over many clips each fires about as often as its p."""
    clip = _clip(same=True)
    names = ("downscale", "blur", "jpeg")
    fired = {n: 0 for n in names}
    for seed in range(200):
        out = degrade.degrade_clip(clip, np.random.default_rng(seed), names)
        assert all(np.array_equal(out[0], f) for f in out[1:])
        assert np.array_equal(out, degrade.degrade_clip(clip, np.random.default_rng(seed), names))
        for n in names:  # which fired, re-deciding with the same draws alone
            fired[n] += not np.array_equal(degrade.degrade_clip(clip, np.random.default_rng(seed), [n]), clip)
    assert 70 <= fired["jpeg"] <= 130  # p 0.5
    assert 30 <= fired["downscale"] <= 95  # p 0.3
    assert 1 <= fired["blur"] <= 25  # p 0.05


def test_augment_clip_runs_degradations_after_flip_and_color():
    clip = _clip()
    changed = 0
    for seed in range(10):
        plain = augment_clip(clip, np.random.default_rng(seed), ("flip",))
        both = augment_clip(clip, np.random.default_rng(seed), ("flip", "h264"))
        changed += not np.array_equal(plain, both)
        assert both.shape == clip.shape
    assert changed >= 1  # h264 fired on some clips (p 0.3) ...
    assert changed < 10  # ... and not on all of them
