"""Prediction: `Predictor` turns video files into fake probabilities; writers render its results."""

from dfdetect.prediction.predictor import PredictOptions, Predictor, VideoPrediction

__all__ = ["PredictOptions", "Predictor", "VideoPrediction"]
