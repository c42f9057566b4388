"""`--augment sbi`: Self-Blended Images from landmark hulls, on a real portrait (grace_hopper)."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from dfdetect.synth import sbi


@pytest.fixture(scope="module")
def face_crop() -> np.ndarray:
    """grace_hopper cropped like `extract` does: a square of 1.3x dlib's face box, 128 px."""
    import dlib
    import matplotlib.cbook as cbook

    img = cv2.cvtColor(cv2.imread(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)), cv2.COLOR_BGR2RGB)
    (box,) = dlib.get_frontal_face_detector()(img, 1)
    cx, cy, side = (box.left() + box.right()) / 2, (box.top() + box.bottom()) / 2, 1.3 * box.width()
    x0, y0 = int(cx - side / 2), int(cy - side / 2)
    crop = img[y0 : y0 + int(side), x0 : x0 + int(side)]
    return cv2.resize(crop, (128, 128), interpolation=cv2.INTER_AREA)


def _params(**kw) -> sbi.SbiParams:
    base = sbi.SbiParams.sample(np.random.default_rng(0))
    return dataclasses.replace(base, **kw)


def test_landmarks_outline_the_face(face_crop):
    lm = sbi.face_landmarks(face_crop)
    assert lm.shape == (68, 2)
    assert lm.min() >= 0 and lm.max() < 128
    jaw = lm[:17]
    assert jaw[:, 0].max() - jaw[:, 0].min() > 0.45 * 128  # the jaw spans most of a 1.3x crop
    eyes_y, chin_y = lm[36:48, 1].mean(), lm[8, 1]
    assert eyes_y < 64 < chin_y  # eyes above the centre, chin below


def test_blend_changes_the_face_and_only_the_face(face_crop):
    lm = sbi.face_landmarks(face_crop)
    p = _params(augment_source=True, ratio=1.0, morph=0, feather=0.02, scale=(1.0, 1.0), shift=(0.0, 0.0),
                rgb_shift=(25.0, -25.0, 15.0))
    out = sbi.sbi_blend_frame(face_crop, p, lm)
    assert out.shape == face_crop.shape and out.dtype == np.uint8
    hull = np.zeros((128, 128), np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(lm).astype(np.int32)), 1)
    inner = cv2.erode(hull, np.ones((9, 9), np.uint8)).astype(bool)
    outer = ~cv2.dilate(hull, np.ones((15, 15), np.uint8)).astype(bool)
    diff = np.abs(out.astype(int) - face_crop.astype(int)).sum(axis=2)
    assert diff[inner].mean() > 20  # the pasted, colour-shifted face
    assert diff[outer].max() <= 1  # outside the feathered hull the target is untouched


def test_target_side_augmentation_changes_the_surroundings(face_crop):
    p = _params(augment_source=False, ratio=1.0, rgb_shift=(25.0, -25.0, 15.0), downscale=1.0, sharpen=0.0)
    out = sbi.sbi_blend_frame(face_crop, p)
    lm = sbi.face_landmarks(face_crop)
    hull = np.zeros((128, 128), np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(lm).astype(np.int32)), 1)
    outer = ~cv2.dilate(hull, np.ones((25, 25), np.uint8)).astype(bool)
    assert np.abs(out.astype(int) - face_crop.astype(int)).sum(axis=2)[outer].mean() > 20


def test_clip_blend_is_seeded_and_coherent(face_crop):
    clip = np.stack([face_crop, face_crop[:, ::-1].copy()])
    a = sbi.sbi_blend_clip(clip, np.random.default_rng(3))
    b = sbi.sbi_blend_clip(clip, np.random.default_rng(3))
    c = sbi.sbi_blend_clip(clip, np.random.default_rng(4))
    assert a.shape == clip.shape and np.array_equal(a, b) and not np.array_equal(a, c)
    assert not np.array_equal(a[0], clip[0])
    assert sbi.SbiParams.sample(np.random.default_rng(0)).ratio in sbi.BLEND_RATIOS


def test_dataset_adds_one_sbi_fake_per_real_clip(tmp_path):
    from _traindata import write_split

    from dfdetect.training.data import FaceStackDataset

    csv = write_split(tmp_path, "train", 3, 2, size=48, frames=(4, 4))
    ds = FaceStackDataset(csv, frames=4, img_size=32, train=True, augment=("sbi",), seed=0)
    assert len(ds) == 5 + 3
    assert list(ds.labels()) == [r.label for r in ds.records] + [1, 1, 1]
    item = ds[(len(ds.records), 0)]
    assert item["label"].item() == 1.0 and item["video_id"].endswith("#xray")
    assert tuple(item["frames"].shape) == (4, 32, 32, 3)


@pytest.fixture(scope="module")
def portrait():
    """grace_hopper (BGR, as a video frame), dlib's face box on it, and the 68 landmarks found on
    the whole, uncropped image: the truth a crop's landmarks are measured against."""
    import dlib
    import matplotlib.cbook as cbook

    bgr = cv2.imread(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    (box,) = dlib.get_frontal_face_detector()(rgb, 1)
    shape = dlib.shape_predictor(str(sbi.landmark_model_path()))(rgb, box)
    truth = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
    return bgr, (box.left(), box.top(), box.right(), box.bottom()), truth


def _crop_at(portrait, scale: float, size: int = 128):
    """The crop `extract --scale SCALE --size SIZE` makes, and the true landmarks mapped into it."""
    from dfdetect.extraction.tracking import crop_face, square_window

    bgr, box, truth = portrait
    window = square_window(box, bgr.shape[1], bgr.shape[0], scale)
    assert window[2] - window[0] == round(max(box[2] - box[0], box[3] - box[1]) * scale)  # not shrunk to fit
    return crop_face(bgr, window, size), (truth - np.float32(window[:2])) * size / (window[2] - window[0])


@pytest.mark.parametrize("scale", [1.3, 1.6, 2.0])
def test_landmarks_at_the_recorded_scale_match_the_uncropped_image(portrait, scale):
    crop, truth = _crop_at(portrait, scale)
    error = np.linalg.norm(sbi.face_landmarks(crop, scale) - truth, axis=1).mean()
    assert error < 2.0  # pixels at 128 px (measured: 1.2, 1.1, 1.2)
    assumed = np.linalg.norm(sbi.face_landmarks(crop) - truth, axis=1).mean()  # every crop taken as 1.3
    if scale == 2.0:  # measured 8.9 px: the box at 1/1.3 of the crop misses the face
        assert assumed > 5.0 > 3 * error
    elif scale == 1.6:  # measured 1.8 px
        assert assumed > error


@pytest.mark.parametrize("scale", [1.3, 1.6, 2.0])
def test_blend_mask_covers_the_true_face_hull_at_each_scale(portrait, scale):
    crop, truth = _crop_at(portrait, scale)
    true_hull = np.zeros((128, 128), np.uint8)
    cv2.fillConvexPoly(true_hull, cv2.convexHull(np.round(truth).astype(np.int32)), 1)
    p = _params(morph=0, feather=0.02, ratio=1.0)
    mask = sbi.hull_mask_from_landmarks((128, 128), sbi.face_landmarks(crop, scale), p, scale) > 0.5
    overlap = (mask & true_hull.astype(bool)).sum() / (mask | true_hull.astype(bool)).sum()
    assert overlap > 0.85  # intersection over union with the hull of the true landmarks
    # and a whole blended clip made at this scale changes the face
    out = sbi.sbi_blend_clip(crop[None], np.random.default_rng(0), scale=scale)
    assert out.shape == (1, 128, 128, 3) and not np.array_equal(out[0], crop)


def test_training_passes_the_recorded_scale_to_sbi(tmp_path, portrait):
    # a real clip extracted at --scale 2.0: its blended fake must be made with the box at 1/2.0
    from dfdetect.preprocess import clip_from_stack, sample_indices
    from dfdetect.training.augment import augment_clip
    from dfdetect.training.data import FaceStackDataset

    crop, _ = _crop_at(portrait, 2.0)
    np.save(tmp_path / "v.npy", np.stack([crop, crop[:, ::-1]]))
    csv = tmp_path / "train.csv"
    csv.write_text("video_id,label,faces_file,status,scale\nv,0,v.npy,ok,2\n")
    ds = FaceStackDataset(csv, frames=2, img_size=None, train=True, augment=("sbi",), seed=0)
    assert ds.records[0].scale == 2.0 and ds.extraction["scale"] == 2
    got = ds[(1, 0)]["frames"].numpy()  # item 1: the blended copy of the real clip

    def replay(scale):  # what the dataset does for that item, with the scale given by hand
        rng = np.random.default_rng([0, 0, 1])
        idx, _ = sample_indices(2, 2, rng)
        return augment_clip(clip_from_stack(np.load(tmp_path / "v.npy"), idx, None), rng, ("sbi",), blend=True,
                            scale=scale)

    assert np.array_equal(got, replay(2.0)) and not np.array_equal(got, replay(None))
    csv.write_text("video_id,label,faces_file,status\nv,0,v.npy,ok\n")  # no scale recorded: extract's default
    assert FaceStackDataset(csv, frames=2, img_size=None, train=True, augment=("sbi",)).records[0].scale is None
    with pytest.raises(Exception, match="crop scale of at least 1"):
        sbi.sbi_blend_clip(crop[None], np.random.default_rng(0), scale=0.5)
