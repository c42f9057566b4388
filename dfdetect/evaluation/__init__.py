"""Evaluation: detection metrics, AUC confidence intervals, and `evaluate` over test CSVs."""

from dfdetect.evaluation.evaluate import EvalOptions, EvalReport, evaluate, evaluate_model, evaluate_models
from dfdetect.evaluation.intervals import auc_with_ci, cluster_bootstrap_auc_ci
from dfdetect.evaluation.metrics import compute_metrics

__all__ = ["EvalOptions", "EvalReport", "auc_with_ci", "cluster_bootstrap_auc_ci", "compute_metrics", "evaluate",
           "evaluate_model", "evaluate_models"]
