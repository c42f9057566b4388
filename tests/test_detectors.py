"""Face-detector backends on real frames: grace_hopper (bundled with matplotlib) and the shared
fixture clips (skipped when ../shared/fixtures is absent)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import FIXTURE_VIDEOS as FIXTURES
from dfdetect.detectors import DETECTORS, FaceBox, create_detector, list_detectors
from dfdetect.errors import DfdetectError, UsageError
from dfdetect.synth.portrait import FACE_BOX

ALL_DETECTORS = ["dlib", "dlib-cnn", "mtcnn", "opencv"]
HAS_MMOD = importlib.util.find_spec("face_recognition_models") is not None


def _rgb(path: str | Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def _grace_hopper_path() -> str:
    from matplotlib import cbook

    return cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)


@pytest.fixture(scope="module")
def portrait() -> np.ndarray:
    """grace_hopper at half size (256x300): the face is ~100 px, enough for every backend."""
    return cv2.resize(_rgb(_grace_hopper_path()), (256, 300), interpolation=cv2.INTER_AREA)


# The portrait fixture is grace_hopper at half size, the very image dfdetect.synth draws its faces
# from, so its face box is known (FACE_BOX, in full-size pixels): the ground truth for every
# backend, dlib included, instead of another detector's answer.
PORTRAIT_FACE = FaceBox(*(v / 2 for v in FACE_BOX))


def _video_frames(relative: str, indices: list[int], size: tuple[int, int] | None = None) -> list[np.ndarray]:
    path = FIXTURES / relative
    if not path.is_file():
        pytest.skip(f"fixture clip {path} not present")
    cap = cv2.VideoCapture(str(path))
    frames, index = [], 0
    while cap.grab() and index <= max(indices):
        if index in indices:
            frame = cv2.cvtColor(cap.retrieve()[1], cv2.COLOR_BGR2RGB)
            frames.append(cv2.resize(frame, size, interpolation=cv2.INTER_AREA) if size else frame)
        index += 1
    cap.release()
    assert len(frames) == len(indices)
    return frames


_cache: dict[str, object] = {}


def _detector(name: str):
    if name == "dlib-cnn" and not HAS_MMOD:
        pytest.skip("face_recognition_models not installed (pip install -e '.[test]' brings it)")
    if name not in _cache:
        _cache[name] = create_detector(name, device="cpu")
    return _cache[name]


def _largest(boxes: list[FaceBox]) -> FaceBox:
    assert boxes, "no face found"
    return max(boxes, key=lambda b: b.area)


# -- registry -------------------------------------------------------------------------------
def test_registry_lists_every_backend_with_a_description():
    assert list_detectors() == ALL_DETECTORS
    for entry in DETECTORS:
        assert entry.description


def test_unknown_detector_suggests_the_closest_name():
    with pytest.raises(UsageError, match="did you mean 'mtcnn'"):
        create_detector("mtnn")
    with pytest.raises(UsageError, match="did you mean 'dlib-cnn'"):
        create_detector("dlib_cnn")


def test_options_a_backend_does_not_take_are_rejected_but_device_is_always_accepted():
    assert create_detector("dlib", device="cpu", model_path=None).name == "dlib"
    takers = r"detector .dlib. takes no --detector-model; drop it, or use a detector that does \(dlib-cnn, mtcnn, opencv\)"
    with pytest.raises(UsageError, match=takers):
        create_detector("dlib", model_path="some.dat")
    with pytest.raises(UsageError, match="takes no bogus"):
        create_detector("opencv", bogus=1)


def test_dlib_and_opencv_backends_never_import_torch():
    code = (
        "import sys, numpy as np\n"
        "from dfdetect.detectors import create_detector, list_detectors\n"
        "for name in ('dlib', 'opencv'):\n"
        "    create_detector(name, device='cpu').detect_batch([np.zeros((64, 64, 3), np.uint8)])\n"
        "list_detectors()\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


# -- every backend on real faces ------------------------------------------------------------
@pytest.mark.parametrize("name", ALL_DETECTORS)
def test_finds_the_known_portrait_face(name, portrait):
    reference = PORTRAIT_FACE
    boxes = _detector(name).detect(portrait)
    assert len(boxes) == 1
    box = boxes[0]
    assert box.iou(reference) > 0.5
    assert 0 <= box.x1 < box.x2 <= portrait.shape[1] and 0 <= box.y1 < box.y2 <= portrait.shape[0]
    assert all(isinstance(v, float) or isinstance(v, int) for v in (box.x1, box.y1, box.x2, box.y2, box.score))


@pytest.mark.parametrize("name", ALL_DETECTORS)
def test_finds_faces_in_fixture_clips(name):
    frames = _video_frames("real/dagan_driving.mp4", [0, 90]) + _video_frames(
        "fake/celebdf_id0_id1_0002.mp4", [0], size=(472, 250)
    )
    references = [_largest(boxes) for boxes in _detector("dlib").detect_batch(frames)]
    found = _detector(name).detect_batch(frames)
    assert len(found) == len(frames)
    for boxes, reference in zip(found, references):
        assert _largest(boxes).iou(reference) > 0.5


@pytest.mark.parametrize("name", ALL_DETECTORS)
def test_grey_tiny_and_empty_inputs(name, portrait):
    detector = _detector(name)
    assert detector.detect_batch([]) == []
    grey = cv2.cvtColor(portrait, cv2.COLOR_RGB2GRAY)
    tiny = [np.zeros((1, 1, 3), np.uint8), np.full((5, 5), 128, np.uint8), np.zeros((4, 200, 3), np.uint8)]
    results = detector.detect_batch([grey, *tiny, grey[:, :, None]])
    assert len(results) == 5
    assert results[1:4] == [[], [], []]
    reference = PORTRAIT_FACE
    assert _largest(results[0]).iou(reference) > 0.5
    assert _largest(results[4]).iou(reference) > 0.5


# -- MTCNN ------------------------------------------------------------------------------------
def test_mtcnn_matches_the_tensorflow_package_on_grace_hopper():
    # Box and score printed by mtcnn 1.0 (TensorFlow) for the full-size image, see
    # experiments/checks/mtcnn_crosscheck.py; JPEG decoders may differ by a grey level, hence the slack.
    tf_box = FaceBox(178.357, 109.896, 351.415, 329.817, 0.98924)
    boxes = _detector("mtcnn").detect(_rgb(_grace_hopper_path()))
    assert len(boxes) == 1
    assert boxes[0].iou(tf_box) > 0.98
    assert boxes[0].score == pytest.approx(tf_box.score, abs=0.01)


def test_mtcnn_networks_reproduce_the_keras_outputs():
    """Fixed inputs through each network; expected numbers come from the mtcnn package's Keras
    models, so a wrong kernel transpose, PReLU axis or flatten order fails here."""
    import torch

    nets = _detector("mtcnn")

    def ramp(shape):
        values = np.sin(np.arange(int(np.prod(shape))) * 0.37).reshape(shape).astype(np.float32)
        return torch.from_numpy(values).permute(0, 3, 1, 2)  # NHWC like Keras -> NCHW

    with torch.inference_mode():
        p_reg, p_prob = nets.pnet(ramp((1, 14, 16, 3)))
        r_reg, r_prob = nets.rnet(ramp((1, 24, 24, 3)))
        o_reg, o_landmarks, o_prob = nets.onet(ramp((1, 48, 48, 3)))
    close = dict(abs=1e-4)
    assert p_reg[0, :, 0, 0].tolist() == pytest.approx([0.045324, 0.057618, -0.180639, 0.017040], **close)
    assert p_prob[0].flatten().tolist() == pytest.approx(
        [0.006558, 0.024237, 0.005443, 0.008664, 0.007317, 0.027428], **close
    )
    assert r_reg[0].tolist() == pytest.approx([-0.177875, -0.149265, 0.400904, 0.434377], **close)
    assert r_prob[0].item() == pytest.approx(0.0001685, abs=1e-5)
    assert o_reg[0].tolist() == pytest.approx([0.074131, -0.093221, -0.051661, 0.050477], **close)
    assert o_landmarks[0].tolist() == pytest.approx(
        [0.202743, 0.604523, 0.426185, 0.431473, 0.722587, 0.295657, 0.126266, 0.427511, 0.900483, 0.777106], **close
    )
    assert o_prob[0].item() == pytest.approx(0.0000045, abs=1e-5)


def test_mtcnn_scale_pyramid_matches_the_package():
    from dfdetect.detectors.mtcnn_torch import scale_pyramid, scaled_size

    scales = scale_pyramid(512, 600, 20, 0.709)  # the package's levels for grace_hopper
    assert len(scales) == 10
    assert scales[0] == pytest.approx(0.6) and scales[-1] == pytest.approx(0.02716235)
    assert scaled_size(600, 512, scales[1]) == (255, 217)  # tf.image.resize truncates
    assert len(scale_pyramid(10, 10, 20, 0.709)) == 0


def test_mtcnn_area_resize_equals_cv2_inter_area():
    import torch

    from dfdetect.detectors.mtcnn_ops import area_resize, area_resize_cv2

    frames = list(np.random.default_rng(0).uniform(-1, 1, (2, 37, 53, 3)).astype(np.float32))
    via_torch = area_resize(torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2), 22, 31)
    via_cv2 = area_resize_cv2(frames, 22, 31)
    assert torch.allclose(via_torch, via_cv2, atol=1e-5)


@pytest.mark.slow  # many frames through the full MTCNN cascade twice
def test_mtcnn_batch_gives_the_same_boxes_as_one_frame_at_a_time(portrait):
    frames = [
        portrait,
        np.ascontiguousarray(portrait[:, ::-1]),
        np.roll(portrait, (17, -9), axis=(0, 1)),
        cv2.resize(portrait, (170, 200), interpolation=cv2.INTER_AREA),  # another size: its own group
        np.zeros((8, 8, 3), np.uint8),
    ]
    detector = _detector("mtcnn")
    singles = [detector.detect(frame) for frame in frames]
    batched = detector.detect_batch(frames)
    detector.max_batch_pixels, default_pixels = 1, detector.max_batch_pixels  # one frame per forward pass
    try:
        one_per_chunk = detector.detect_batch(frames)
    finally:
        detector.max_batch_pixels = default_pixels
    assert sum(len(boxes) for boxes in singles) >= 4
    for expected, got, chunked in zip(singles, batched, one_per_chunk):
        assert len(got) == len(expected) == len(chunked)
        for a, b, c in zip(expected, got, chunked):
            assert [b.x1, b.y1, b.x2, b.y2, b.score] == pytest.approx([a.x1, a.y1, a.x2, a.y2, a.score], abs=1e-3)
            assert [c.x1, c.y1, c.x2, c.y2, c.score] == pytest.approx([a.x1, a.y1, a.x2, a.y2, a.score], abs=1e-3)


def test_mtcnn_device_resize_path_gives_the_same_boxes(portrait):
    """The accelerator path (pyramid by matmuls on the device) run on the CPU against cv2's."""
    detector = create_detector("mtcnn", device="cpu")
    expected = detector.detect(portrait)
    detector.cv2_resize = False
    got = detector.detect(portrait)
    assert len(got) == len(expected) == 1
    assert [got[0].x1, got[0].y1, got[0].x2, got[0].y2] == pytest.approx(
        [expected[0].x1, expected[0].y1, expected[0].x2, expected[0].y2], abs=0.05
    )


def test_mtcnn_bad_weights_folder_is_a_one_line_error(tmp_path):
    with pytest.raises(DfdetectError, match="lacks pnet.lz4"):
        create_detector("mtcnn", device="cpu", model_path=str(tmp_path))


# -- dlib-cnn model file --------------------------------------------------------------------
def test_dlib_cnn_missing_model_path_names_both_fixes(tmp_path):
    with pytest.raises(DfdetectError) as error:
        create_detector("dlib-cnn", model_path=str(tmp_path / "nope.dat"))
    message = str(error.value)
    assert "\n" not in message
    assert "--detector-model" in message and "pip install face_recognition_models" in message


def test_dlib_cnn_without_the_package_names_both_fixes(monkeypatch):
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name == "face_recognition_models" else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(DfdetectError, match=r"--detector-model PATH.*pip install face_recognition_models"):
        create_detector("dlib-cnn")


def test_dlib_cnn_rejects_a_file_that_is_not_a_model(tmp_path):
    bogus = tmp_path / "mmod_human_face_detector.dat"
    bogus.write_bytes(b"not a dlib model")
    with pytest.raises(DfdetectError, match="cannot load"):
        create_detector("dlib-cnn", model_path=str(bogus))


def test_opencv_missing_cascade_is_a_one_line_error(tmp_path):
    with pytest.raises(DfdetectError, match="does not exist"):
        create_detector("opencv", model_path=str(tmp_path / "cascade.xml"))
