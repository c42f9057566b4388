"""Robustness of a detector to degraded video: perturb the test videos, extract and score them again.

    from dfdetect.robustness import RobustnessOptions, parse_spec, run_robustness

`registry` holds the perturbations (DeeperForensics-1.0's seven distortions at its five levels,
plus a resolution downscale and an H.264 re-encode at FF++'s CRFs); `spec` parses
`--perturbations`; `runner` perturbs, extracts (cached) and scores; `results` tabulates and plots.
"""

from dfdetect.robustness.spec import DEFAULT_SPEC, describe_perturbations, parse_spec

__all__ = ["DEFAULT_SPEC", "describe_perturbations", "parse_spec"]
