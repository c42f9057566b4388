"""`dfdetect benchmark`: the paper's experiment in one command, and a speed benchmark.

    from dfdetect.benchmarking import BenchmarkOptions, run_benchmark
    result = run_benchmark(BenchmarkOptions(models=["dual", "meso4"], losses=["bce", "auc"]))
"""

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
    "DEFAULT_LOSSES", "DEFAULT_MODELS", "BenchmarkOptions", "BenchmarkResult", "SpeedOptions",
    "benchmark_table", "run_benchmark", "run_speed", "speed_table",
]
