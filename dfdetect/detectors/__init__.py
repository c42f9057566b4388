"""Face-detector backends. Importing this package registers every backend (cheaply)."""

from dfdetect.detectors import dlib_cnn, dlib_hog, mtcnn_torch, opencv_haar  # noqa: F401
from dfdetect.detectors.base import DETECTORS, FaceBox, FaceDetector, create_detector, list_detectors

__all__ = ["DETECTORS", "FaceBox", "FaceDetector", "create_detector", "list_detectors"]
