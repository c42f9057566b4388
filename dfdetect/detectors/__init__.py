"""Face detectors: the backend registry (dlib HOG and CNN, MTCNN, OpenCV Haar) and `create_detector`."""

from dfdetect.detectors.base import DETECTORS, FaceBox, FaceDetector
from dfdetect.detectors.factory import create_detector, import_backends, list_detectors

__all__ = ["DETECTORS", "FaceBox", "FaceDetector", "create_detector", "import_backends", "list_detectors"]
