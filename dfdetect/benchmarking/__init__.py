"""`dfdetect benchmark`: models × losses × imbalance ratios (two protocols), k-fold evaluation of
a folds folder, and a speed benchmark, all built on one experiment primitive.

    from dfdetect.benchmarking import run_experiment                           # train one config, score test sets
    result = run_experiment(TrainConfig(train_csv="SPLITS/train.csv", val_csv="SPLITS/val.csv"),
                            ["SPLITS/test.csv"], "runs/exp")                   # result.row(), result.scores()

    from dfdetect.benchmarking import BenchmarkOptions, run_benchmark          # --protocol test-only
    result = run_benchmark(BenchmarkOptions(models=["dual", "meso4"], losses=["bce", "auc"]))

    from dfdetect.benchmarking import PaperOptions, run_paper_protocol         # --protocol paper
    result = run_paper_protocol(PaperOptions(models=["meso4"], losses=["bce", "auc", "auc+fb"]))

    from dfdetect.benchmarking import run_folds                                # --data FOLDS
    result = run_folds(BenchmarkOptions(models=["cnn"], losses=["auc"], data=Path("SPLITS")))
"""

from dfdetect.benchmarking.experiment import ExperimentResult, run_experiment
from dfdetect.benchmarking.folds import FoldsResult, find_folds, folds_table, run_folds
from dfdetect.benchmarking.paper import PaperOptions, PaperResult, paper_table, run_paper_protocol
from dfdetect.benchmarking.runner import (
    DEFAULT_LOSSES,
    DEFAULT_MODELS,
    BenchmarkOptions,
    BenchmarkResult,
    benchmark_table,
    run_benchmark,
)
from dfdetect.benchmarking.speed import SpeedOptions, run_speed, speed_table

__all__ = [
    "DEFAULT_LOSSES", "DEFAULT_MODELS", "BenchmarkOptions", "BenchmarkResult", "ExperimentResult", "FoldsResult",
    "PaperOptions", "PaperResult", "SpeedOptions", "benchmark_table", "find_folds", "folds_table", "paper_table",
    "run_benchmark", "run_experiment", "run_folds", "run_paper_protocol", "run_speed", "speed_table",
]
