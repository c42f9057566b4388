"""dfdetect: deepfake video detection, from raw videos to calibrated verdicts."""

__version__ = "0.1.0"
