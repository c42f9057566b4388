"""extract_faces on the real clips in ../shared/fixtures/videos (skipped when absent)."""

from __future__ import annotations

import pytest

from _extractdata import fixture_clip
from dfdetect.extraction import ExtractOptions, build_detector, extract_faces

OPTS = ExtractOptions(frames=8, size=64)


@pytest.fixture(scope="module")
def detector():
    return build_detector(OPTS)


@pytest.mark.parametrize("name, min_faces", [
    ("dagan_driving.mp4", 8),
    ("fomm_demo_04.mp4", 8),
    ("celebdf_id0_id1_0002.mp4", 8),
    # already-cropped DFDC faces: the face fills the frame (padding pass); HOG still misses some
    ("dfdc_facecrop_aaqaifqrwn.mp4", 7),
    ("dfdc_facecrop_aayrffkzxn.mp4", 4),
])
def test_fixture_faces(name, min_faces, detector):
    result = extract_faces(fixture_clip(name), OPTS, detector)
    assert result.status == "ok" and result.faces.shape == (8, 64, 64, 3)
    assert result.n_faces >= min_faces, [f.source for f in result.frames]


def test_multi_face_clip_with_scene_cuts(detector):
    # Several people, small turning faces and cuts to the audience: frames without a detection
    # carry the box of the nearest detected frame, never invent one.
    result = extract_faces(fixture_clip("hamilton_clip_multi_face.mp4"), OPTS, detector)
    assert result.status == "ok" and result.n_faces >= 4
    detected = {f.index: f.box for f in result.frames if f.source == "detected"}
    for f in result.frames:
        if f.source == "carried":
            assert f.box == detected[f.box_from]
            assert abs(f.box_from - f.index) == min(abs(i - f.index) for i in detected)


def test_cartoon_robot_clip_is_no_face_not_an_error(detector):
    # tpsmm_driving_small_face.mp4 shows a cartoon robot, not a human face: HOG (a human frontal
    # face model) finds none at any scale, padded or not; the video is recorded as no_face.
    result = extract_faces(fixture_clip("tpsmm_driving_small_face.mp4"), ExtractOptions(frames=4, size=64), detector)
    assert result.status == "no_face" and result.error == "" and result.n_sampled == 4
