"""benchmarks/interval_coverage.py: the simulation the docs quote for DeLong against Hanley–McNeil."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "interval_coverage.py"


def _script():
    spec = importlib.util.spec_from_file_location("interval_coverage", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_few_fakes_delong_under_covers_and_hanley_mcneil_holds(capsys) -> None:
    script = _script()
    one = script.coverage(1, 100, 0.76, trials=150, seed=0)
    assert one["delong"][0] < 0.4 and one["hanley-mcneil"][2] == 0  # one fake: no interval from dfdetect
    two = script.coverage(2, 100, 0.76, trials=150, seed=0)
    assert two["delong"][0] < 0.8 < 0.9 < two["hanley-mcneil"][0] and two["hanley-mcneil"][2] == 150
    assert script.coverage(2, 100, 0.76, trials=150, seed=0) == two  # seeded
    assert script.main(["--fakes", "2", "--reals", "40", "--trials", "20"]) == 0
    printed = capsys.readouterr().out
    assert "hanley-mcneil coverage" in printed and "group bootstrap" in printed and "25 identity groups" in printed


def test_frame_interval_with_few_videos_holds_where_the_bootstrap_does_not() -> None:
    res = _script().frame_coverage(2, trials=60, seed=0, n_boot=200)
    assert res["bootstrap over videos"][0] < 0.85 < 0.9 < res["frame_auc_ci (eval)"][0]
