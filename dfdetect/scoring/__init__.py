"""Scoring: the one inference path from face stacks to fake probabilities, and checkpoint ensembles."""

from dfdetect.scoring.ensemble import EnsembleScorer, build_scorer, load_members
from dfdetect.scoring.inference import ScoringOptions, StackScorer, score_stack

__all__ = ["EnsembleScorer", "ScoringOptions", "StackScorer", "build_scorer", "load_members", "score_stack"]
