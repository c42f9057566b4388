"""extract_faces: sampling, detection, main-subject tracking, carried boxes, crops."""

from __future__ import annotations


import cv2
import numpy as np
import pytest

from _extractdata import canvas, face_frame, face_patch, paste, synth_clip, write_frames
from dfdetect.detectors.base import FaceBox
from dfdetect.extraction import ExtractOptions, build_detector, extract_faces
from dfdetect.extraction.detect import CoarseToFineDetector, plan_passes
from dfdetect.extraction.tracking import choose_face, square_window


@pytest.fixture(scope="module")
def detector():
    return build_detector(ExtractOptions())


def test_synthetic_clip_gives_square_rgb_stack_and_writes_nothing(tmp_path, detector):
    clip = synth_clip(tmp_path / "clip.mp4", n_frames=12)
    before = sorted(tmp_path.iterdir())
    result = extract_faces(clip, ExtractOptions(frames=5, size=48), detector)
    assert sorted(tmp_path.iterdir()) == before
    assert result.status == "ok" and result.error == ""
    assert result.faces.shape == (5, 48, 48, 3) and result.faces.dtype == np.uint8
    assert [f.index for f in result.frames] == [0, 3, 6, 8, 11]  # evenly spaced, ends included
    assert result.n_sampled == 5 and result.n_faces == 5
    assert all(f.source == "detected" and f.box_from == f.index for f in result.frames)
    x1, y1, x2, y2 = result.frames[0].crop
    assert x2 - x1 == y2 - y1 and 0 <= x1 and x2 <= 160 and 0 <= y1 and y2 <= 128


def test_crop_is_rgb_not_bgr(tmp_path, detector):
    # A pure-red frame region around the face: the crop's first channel must dominate.
    frame, _ = face_frame(200, 200, 90, 30, 30)
    frame[:, :, :] = (frame * 0.3).astype(np.uint8)
    frame[..., 2] = np.maximum(frame[..., 2], 200)  # BGR: channel 2 is red
    clip = write_frames(tmp_path / "red.mp4", [frame] * 3)
    result = extract_faces(clip, ExtractOptions(frames=3, size=32), detector)
    assert result.status == "ok"
    means = result.faces.reshape(-1, 3).mean(axis=0)
    assert means[0] > means[2] + 50


def test_main_subject_is_kept_when_a_second_face_grows_larger(tmp_path, detector):
    # Face A (left) starts largest; from frame 3 face B (right) becomes larger than A.
    frames = []
    for i in range(6):
        frame = canvas(360, 240)
        paste(frame, face_patch(90 if i < 3 else 70)[0], 10 + 2 * i, 40)
        paste(frame, face_patch(60 if i < 3 else 100)[0], 190, 30)
        frames.append(frame)
    clip = write_frames(tmp_path / "two.mp4", frames)
    result = extract_faces(clip, ExtractOptions(frames=None, size=32), detector)
    assert result.status == "ok" and result.n_faces == 6
    centres = [(f.box[0] + f.box[2]) / 2 for f in result.frames]
    assert all(c < 180 for c in centres), centres


def test_a_bigger_face_does_not_stop_the_search_for_the_tracked_one(detector):
    frame = canvas(360, 240)
    paste(frame, face_patch(46)[0], 10, 40)  # A: too small for the first pass (HOG needs ~80 px)
    paste(frame, face_patch(100)[0], 190, 30)
    finder = CoarseToFineDetector(detector, 640, 2.0, track_window=False)
    only_b = finder.detect([frame])[0]
    assert len(only_b) == 1 and only_b[0].x1 > 180  # untracked: the first pass that finds a face wins
    tracked_a = FaceBox(25, 55, 75, 105)
    both = finder.detect([frame], near=tracked_a)[0]
    assert len(both) == 2 and choose_face(both, tracked_a).x1 < 180


def test_choose_face_largest_first_then_nearest_then_new_track():
    big, small = FaceBox(0, 0, 100, 100), FaceBox(200, 0, 250, 50)
    assert choose_face([small, big], None) == big
    assert choose_face([big, small], FaceBox(205, 5, 255, 55)) == small
    # nothing near the previous box (a scene cut): start again with the largest face
    assert choose_face([small, big], FaceBox(600, 600, 640, 640)) == big


def test_frames_without_a_face_carry_the_nearest_detected_box(tmp_path, detector):
    faceless = {3, 4, 8, 9}
    frames = []
    for i in range(10):
        frame, _ = face_frame(200, 160, 90, 20 + 4 * i, 10)
        frames.append(canvas(200, 160) if i in faceless else frame)
    clip = write_frames(tmp_path / "gaps.mp4", frames)
    result = extract_faces(clip, ExtractOptions(frames=None, size=32), detector)
    assert result.status == "ok" and result.faces.shape[0] == 10 and result.n_faces == 6
    by_index = {f.index: f for f in result.frames}
    assert [by_index[i].source for i in range(10)] == [
        "carried" if i in faceless else "detected" for i in range(10)
    ]
    assert by_index[3].box_from == 2 and by_index[4].box_from == 5  # nearest in time
    assert by_index[8].box_from == 7 and by_index[9].box_from == 7  # none after: carried forward
    assert by_index[3].box == by_index[2].box and by_index[4].box == by_index[5].box


def test_video_without_faces_is_no_face(tmp_path, detector):
    clip = write_frames(tmp_path / "empty_scene.mp4", [canvas(160, 120, seed=i) for i in range(4)])
    result = extract_faces(clip, ExtractOptions(frames=4, size=32), detector)
    assert result.status == "no_face" and result.faces is None and result.n_faces == 0
    assert result.n_sampled == 4 and all(f.box is None for f in result.frames)


def test_small_face_in_a_large_frame_is_found_by_upscaling(tmp_path, detector):
    frame, (x1, y1, x2, y2) = face_frame(1280, 720, 60, 600, 300)
    # The first, downscaled pass cannot see a 60 px face in a 1280 px frame (30 px at 640).
    assert not detector.detect(cv2.resize(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), (640, 360)))
    clip = write_frames(tmp_path / "small.mp4", [frame])
    result = extract_faces(clip, ExtractOptions(frames=1, size=32), detector)
    assert result.status == "ok" and result.n_faces == 1
    assert FaceBox(*result.frames[0].box).iou(FaceBox(x1, y1, x2, y2)) > 0.4


def test_face_filling_the_frame_is_found(tmp_path, detector):
    big, (x1, y1, x2, y2) = face_frame(400, 400, 150, 80, 60)
    cx, cy, half = (x1 + x2) / 2, (y1 + y2) / 2, 0.45 * (x2 - x1)
    tight = cv2.resize(big[int(cy - half):int(cy + half), int(cx - half):int(cx + half)], (128, 128))
    clip = write_frames(tmp_path / "tight.mp4", [tight] * 3)
    result = extract_faces(clip, ExtractOptions(frames=3, size=32), detector)
    assert result.status == "ok" and result.n_faces == 3
    assert result.frames[0].crop == (0, 0, 128, 128)  # 1.3x the face is the whole frame, kept square


def test_square_window_is_square_and_inside_the_frame():
    assert square_window((10, 10, 50, 30), 200, 100, 1.0) == (10, 0, 50, 40)
    # near a corner: shifted inside, not squashed
    x1, y1, x2, y2 = square_window((0, 0, 40, 40), 200, 100, 1.5)
    assert (x1, y1) == (0, 0) and x2 - x1 == y2 - y1 == 60
    # larger than the frame: the frame's shorter side
    assert square_window((0, 0, 200, 100), 200, 100, 1.3) == (50, 0, 150, 100)


def test_pass_plan_goes_from_cheap_to_the_reference_upscale():
    plan = plan_passes(1080, 1920, 640, 2.0)
    assert plan[0].scale == pytest.approx(1 / 3) and plan[0].pad == 0
    assert plan[1].pad > 0 and plan[-1].scale == 2.0
    assert [p.scale for p in plan if p.pad == 0] == sorted(p.scale for p in plan if p.pad == 0)
    assert plan_passes(128, 128, 640, 2.0)[-1].scale == 2.0


def test_unreadable_path_is_an_error_result(tmp_path, detector):
    result = extract_faces(tmp_path / "nope.mp4", ExtractOptions(), detector)
    assert result.status == "error" and "no such file" in result.error and result.faces is None


def test_coarse_to_fine_detector_remembers_the_pass_that_worked(detector):
    frame, _ = face_frame(1280, 720, 60, 600, 300)
    finder = CoarseToFineDetector(detector, 640, 2.0)
    assert finder.detect([frame])[0]
    first = finder.passes_run
    assert finder.detect([frame])[0]
    assert finder.passes_run - first == 1  # the second frame starts at the pass that found the face


def test_tracked_face_is_found_in_a_window_around_the_last_box(detector):
    frame, box = face_frame(1280, 720, 60, 600, 300)
    finder = CoarseToFineDetector(detector, 640, 2.0)
    found = finder.detect([frame], near=FaceBox(*box))[0]
    assert finder.roi_hits == 1 and finder.passes_run == 1  # no full-frame pass was needed
    assert FaceBox(*box).iou(found[0]) > 0.4


def test_passes_that_never_find_a_face_are_dropped_but_the_strongest_stays(detector):
    finder = CoarseToFineDetector(detector, 640, 2.0)
    blank = canvas(320, 240)
    n_passes = len(plan_passes(240, 320, 640, 2.0))
    for _ in range(4):
        finder.detect([blank])
    assert finder.passes_run == 4 * n_passes
    finder.detect([blank])
    assert finder.passes_run == 4 * n_passes + 1  # only the upsample-1-strength pass is left
    frame, _ = face_frame(320, 240, 60, 100, 50)  # and it still finds a face
    assert finder.detect([frame])[0]


def test_progress_reports_the_fraction_of_sampled_frames_done(tmp_path) -> None:
    from _extractdata import synth_clip
    from dfdetect.extraction import ExtractOptions, extract_faces

    clip = synth_clip(tmp_path / "a.mp4", n_frames=12)
    seen: list[float] = []
    result = extract_faces(clip, ExtractOptions(frames=6, size=32), progress=seen.append)
    assert result.status == "ok"
    assert len(seen) == 6 and seen == sorted(seen) and seen[-1] == 1.0 and 0 < seen[0] < 1
