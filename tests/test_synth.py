"""The synthetic video generator: detectable faces, determinism, where fakes differ, the CSV."""

from __future__ import annotations

import csv
import hashlib
import subprocess
import sys
from pathlib import Path

import cv2
import dlib
import numpy as np
import pytest

from conftest import synth_face_boxes
from dfdetect.errors import DfdetectError
from dfdetect.synth import make_clip, make_dataset, render_frames, self_blend, strength_for


@pytest.fixture(scope="module")
def hog():
    return dlib.get_frontal_face_detector()


def _decode(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def _faces(hog, frame_bgr: np.ndarray, upsample: int = 0):
    return hog(cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY), upsample)


def _iou(box, truth) -> float:
    """Overlap of a dlib rectangle with a true (x0, y0, x1, y1) box."""
    a = (box.left(), box.top(), box.right(), box.bottom())
    w = max(0.0, min(a[2], truth[2]) - max(a[0], truth[0]))
    h = max(0.0, min(a[3], truth[3]) - max(a[1], truth[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (truth[2] - truth[0]) * (truth[3] - truth[1]) - w * h
    return w * h / union


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("fake", [False, True])
@pytest.mark.parametrize("size", [128, 256])
def test_dlib_finds_the_face_in_most_frames_of_small_clips(tmp_path, hog, fake, size):
    path = make_clip(tmp_path / "clip.mp4", fake=fake, seed=3, n_frames=16, width=size, height=size)
    frames = _decode(path)
    assert len(frames) == 16 and frames[0].shape == (size, size, 3)
    truth = synth_face_boxes(3, size, size, 16)  # where the generator drew the face
    found = [(len(boxes) == 1 and _iou(boxes[0], truth[i]) > 0.5)
             for i, boxes in ((i, _faces(hog, frames[i])) for i in range(0, 16, 2))]
    assert sum(found) >= 0.8 * len(found), found


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)])
def test_dlib_finds_a_reasonably_sized_face_in_hd(tmp_path, hog, size):
    width, height = size
    path = make_clip(tmp_path / "hd.mp4", fake=True, seed=7, width=width, height=height, n_frames=3)
    frames = _decode(path)
    assert frames[0].shape == (height, width, 3)
    truth = synth_face_boxes(7, width, height, 3)
    for i in (0, 2):
        boxes = _faces(hog, frames[i])
        assert len(boxes) == 1 and _iou(boxes[0], truth[i]) > 0.5, (boxes, truth[i])
        x0, y0, x1, y1 = truth[i]
        assert 0.15 * height < y1 - y0 < 0.45 * height  # like a face in real HD footage
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height


def test_face_scale_sets_the_face_size(hog):
    frame_small = next(render_frames(identity_seed=1, blend_seed=None, face_scale=0.35))
    frame_big = next(render_frames(identity_seed=1, blend_seed=None, face_scale=0.55))
    small = _faces(hog, cv2.cvtColor(frame_small, cv2.COLOR_RGB2BGR))[0].width()
    big = _faces(hog, cv2.cvtColor(frame_big, cv2.COLOR_RGB2BGR))[0].width()
    assert big > 1.3 * small


def test_same_arguments_give_identical_bytes(tmp_path):
    a = make_clip(tmp_path / "a.mp4", fake=True, seed=11, n_frames=8)
    b = make_clip(tmp_path / "b.mp4", fake=True, seed=11, n_frames=8)
    c = make_clip(tmp_path / "c.mp4", fake=True, seed=12, n_frames=8)
    assert _md5(a) == _md5(b)
    assert _md5(a) != _md5(c)
    assert not list(tmp_path.glob(".*partial*"))  # the temporary file was renamed away


def _face_mask(shape, box, grow: float) -> np.ndarray:
    """A square around the true face box (x0, y0, x1, y1), `grow` times its width."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    half = grow * (box[2] - box[0]) / 2
    mask = np.zeros(shape[:2], bool)
    mask[max(int(cy - half), 0) : int(cy + half), max(int(cx - half), 0) : int(cx + half)] = True
    return mask


def test_fake_differs_from_its_real_inside_the_face_only():
    seed = 5
    common = dict(identity_seed=seed, n_frames=6, difficulty=0.5, width=384, height=384, face_scale=0.25)
    real = list(render_frames(blend_seed=None, **common))
    fake = list(render_frames(blend_seed=seed, **common))
    for r, f, box in zip(real, fake, synth_face_boxes(seed, 384, 384, 6, face_scale=0.25)):
        diff = np.abs(r.astype(np.int16) - f.astype(np.int16)).max(axis=2)
        inner = _face_mask(r.shape, box, 0.6)
        # The mask's feather ends within ~1.6 face boxes; JPEG blocks (16 px) may carry it a bit further.
        outside = ~_face_mask(r.shape, box, 2.0)
        assert outside.mean() > 0.5
        assert diff[inner].mean() > 1.0  # the blend is there...
        assert diff[outside].max() == 0  # ...and nowhere else


def test_fake_mp4_differs_from_real_mp4_mostly_in_the_face(tmp_path):
    real = _decode(make_clip(tmp_path / "r.mp4", fake=False, seed=8, n_frames=6, difficulty=0.2))
    fake = _decode(make_clip(tmp_path / "f.mp4", fake=True, seed=8, n_frames=6, difficulty=0.2))
    for r, f, box in zip(real, fake, synth_face_boxes(8, n_frames=6)):
        diff = np.abs(r.astype(np.int16) - f.astype(np.int16)).mean(axis=2)
        inside = diff[_face_mask(r.shape, box, 0.6)].mean()
        outside = diff[~_face_mask(r.shape, box, 1.6)].mean()
        assert inside > 3 * outside + 0.5


def test_harder_difficulty_gives_subtler_fakes():
    means = []
    for difficulty in (0.0, 0.5, 1.0):
        total = 0.0
        for seed in (1, 2, 3):
            real = render_frames(identity_seed=seed, blend_seed=None, n_frames=4, difficulty=difficulty)
            fake = render_frames(identity_seed=seed, blend_seed=seed, n_frames=4, difficulty=difficulty)
            total += sum(float(np.abs(r.astype(np.int16) - f.astype(np.int16)).mean()) for r, f in zip(real, fake))
        means.append(total)
    assert means[0] > means[1] > means[2] > 0
    assert strength_for(0.0) > strength_for(0.5) > strength_for(1.0) > 0


def test_make_dataset_writes_videos_and_grouped_csv(tmp_path):
    csv_path = make_dataset(tmp_path / "data", n_real=2, n_fake=3, seed=4, width=96, height=96, n_frames=4)
    assert csv_path == tmp_path / "data" / "videos.csv"
    with open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["path", "label", "group", "method"]
    assert [r["label"] for r in rows] == ["real", "real", "fake", "fake", "fake"]
    assert [r["group"] for r in rows] == ["real_000", "real_001", "real_000", "real_001", "real_000"]
    assert [r["method"] for r in rows] == ["real", "real", "selfblend", "selfblend", "selfblend"]
    for row in rows:
        video = csv_path.parent / row["path"]
        assert video.is_file() and len(_decode(video)) == 4
    # A fake really derives from the real clip named by its group: same frames away from the face.
    real = _decode(csv_path.parent / "real/real_001.mp4")[0].astype(np.int16)
    fake = _decode(csv_path.parent / "fake/fake_001.mp4")[0].astype(np.int16)
    other = _decode(csv_path.parent / "real/real_000.mp4")[0].astype(np.int16)
    corner = (slice(0, 16), slice(0, 16))
    assert np.abs(real[corner] - fake[corner]).mean() < np.abs(other[corner] - fake[corner]).mean()
    # Same seed, same dataset.
    again = make_dataset(tmp_path / "again", n_real=2, n_fake=3, seed=4, width=96, height=96, n_frames=4)
    assert again.read_text() == csv_path.read_text()
    assert _md5(tmp_path / "again/fake/fake_002.mp4") == _md5(tmp_path / "data/fake/fake_002.mp4")


def test_make_dataset_without_groups_gives_every_fake_its_own_group(tmp_path):
    csv_path = make_dataset(tmp_path, n_real=1, n_fake=2, width=64, height=64, n_frames=2, groups=False)
    with open(csv_path, newline="") as handle:
        groups = [r["group"] for r in csv.DictReader(handle)]
    assert groups == ["real_000", "fake_000", "fake_001"]


@pytest.mark.parametrize("shape", [(64, 64), (128, 128), (96, 80)])
def test_self_blend_changes_the_centre_not_the_corners(shape):
    face = next(render_frames(identity_seed=2, blend_seed=None))[40:200, 50:210]  # a rough face crop
    face = cv2.resize(face, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    before = face.copy()
    out = self_blend(face, np.random.default_rng(0), difficulty=0.3)
    assert np.array_equal(face, before)  # the input is left alone
    assert out.shape == face.shape and out.dtype == np.uint8
    diff = np.abs(out.astype(np.int16) - face.astype(np.int16)).mean(axis=2)
    h, w = shape
    centre = diff[int(0.4 * h) : int(0.6 * h), int(0.4 * w) : int(0.6 * w)].mean()
    corners = np.concatenate([diff[:6, :6].ravel(), diff[:6, -6:].ravel(), diff[-6:, :6].ravel(), diff[-6:, -6:].ravel()])
    assert centre > 1.0
    assert corners.mean() < 0.1 * centre


def test_self_blend_is_seeded_and_follows_difficulty():
    face = cv2.resize(next(render_frames(identity_seed=4, blend_seed=None))[40:200, 50:210], (64, 64))
    a = self_blend(face, np.random.default_rng(1))
    b = self_blend(face, np.random.default_rng(1))
    assert np.array_equal(a, b)
    easy = np.mean([np.abs(self_blend(face, np.random.default_rng(s), 0.0).astype(int) - face).mean() for s in range(8)])
    hard = np.mean([np.abs(self_blend(face, np.random.default_rng(s), 1.0).astype(int) - face).mean() for s in range(8)])
    assert easy > 2 * hard > 0
    with pytest.raises(ValueError, match=r"self_blend expects a uint8 \(H, W, 3\) array"):
        self_blend(face[..., 0], np.random.default_rng(0))


def test_bad_arguments_are_user_errors(tmp_path):
    with pytest.raises(DfdetectError, match="frame size 255x256 is invalid; use even sizes"):
        make_clip(tmp_path / "x.mp4", fake=False, seed=0, width=255)
    with pytest.raises(DfdetectError, match=r"difficulty must be in \[0, 1\], got 1.5"):
        make_clip(tmp_path / "x.mp4", fake=True, seed=0, difficulty=1.5)
    with pytest.raises(DfdetectError, match="need a positive number of clips, got n_real=0, n_fake=0"):
        make_dataset(tmp_path, n_real=0, n_fake=0)
    assert not (tmp_path / "x.mp4").exists()


def test_synth_does_not_import_torch():
    code = "import sys, dfdetect.synth; sys.exit('torch' in sys.modules or 'matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_synth_command_writes_a_dataset_and_prints_the_csv(tmp_path, runner):
    from dfdetect.cli import app

    out = tmp_path / "demo"
    result = runner.invoke(app, ["synth", str(out), "--real", "2", "--fake", "1", "--size", "96x64", "--frames", "3", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert str(out / "videos.csv") in result.stdout
    assert sorted(p.name for p in out.rglob("*.mp4")) == ["fake_000.mp4", "real_000.mp4", "real_001.mp4"]
    assert _decode(out / "fake" / "fake_000.mp4")[0].shape == (64, 96, 3)

    bad = runner.invoke(app, ["synth", str(tmp_path / "bad"), "--size", "95x64"])
    assert bad.exit_code == 2 and "even" in bad.output
    bad = runner.invoke(app, ["synth", str(tmp_path / "bad"), "--size", "big"])
    assert bad.exit_code == 2 and "WIDTHxHEIGHT" in bad.output
    assert not (tmp_path / "bad").exists()


def test_fake_blend_flickers_from_frame_to_frame():
    real = list(render_frames(identity_seed=9, blend_seed=None, n_frames=8, difficulty=0.3))
    fake = list(render_frames(identity_seed=9, blend_seed=9, n_frames=8, difficulty=0.3))
    # Signed mean colour change inside the face, per frame: the blend is not one fixed filter.
    changes = []
    for r, f, box in zip(real, fake, synth_face_boxes(9, n_frames=8)):
        inner = _face_mask(r.shape, box, 0.5)
        changes.append((f.astype(np.float32) - r.astype(np.float32))[inner].mean(axis=0))
    changes = np.array(changes)
    assert np.abs(changes).mean() > 1.0
    assert changes.std(axis=0).max() > 0.1 * np.abs(changes).mean()
