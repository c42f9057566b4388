"""Leakage-safe train/val/test splits and imbalanced test sets (`dfdetect split`).

    from dfdetect.splitting import make_splits
    summary = make_splits(["DATA/manifest.csv"], "SPLITS", test_ratios=["1:10", "1:100"], seed=0)
    folds = make_folds(["DATA/manifest.csv"], "SPLITS", folds=5, seed=0)  # SPLITS/fold_<i>/...
"""

from dfdetect.splitting.core import SplitFile, SplitSummary, make_splits
from dfdetect.splitting.folds import FoldsSummary, make_folds, read_folds
from dfdetect.splitting.ratios import DEFAULT_TEST_RATIOS, parse_ratio, parse_ratios

__all__ = [
    "DEFAULT_TEST_RATIOS", "FoldsSummary", "SplitFile", "SplitSummary", "make_folds", "make_splits", "parse_ratio",
    "parse_ratios", "read_folds",
]
