"""The two HTML report pages: `eval --report FILE.html` and the benchmark's report.html."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

if TYPE_CHECKING:
    from dfdetect.benchmarking.runner import BenchmarkResult
    from dfdetect.evaluation.evaluate import EvalReport

__all__ = ["write_benchmark_report", "write_eval_report"]


def model_explainer(run: str | Path, options: Any = None) -> Callable | None:
    """face stack -> StackExplanation with RUN's model, or None when it has no layer to explain."""
    from dfdetect.checkpoint import load_model
    from dfdetect.errors import DfdetectError
    from dfdetect.explain import explain_stack, resolve_cam_layer

    model, config = load_model(run, device="cpu")
    try:
        resolve_cam_layer(model)
    except DfdetectError:
        return None
    aggregate = getattr(options, "aggregate", "mean")
    return lambda faces: explain_stack(model, config, faces, 1, "cpu", aggregate)


def write_eval_report(report: "EvalReport", path: str | Path, options: Any = None, heatmaps: bool = True) -> Path:
    """`eval --report`: one HTML file for one checkpoint on its test sets."""
    from dfdetect.scoring.ensemble import describe_model
    from dfdetect.report.plots import plot_auc_vs_ratio, plot_roc_curves
    from dfdetect.report.figures import plot_uri
    from dfdetect.report.html import build_report, write_report
    from dfdetect.report.tables import auc_ratio_points

    from dfdetect.report.reliability import plot_reliability

    threshold = float(report.threshold)  # --threshold, else the checkpoint's calibrated one, else 0.5
    name = describe_model(report.config)
    curves, seen = [], set()
    for s in report.sets:
        if s.group not in seen:
            seen.add(s.group)
            curves.append((s.name, s.labels, s.video_scores))
    figures = [("ROC curves", plot_uri(lambda p: plot_roc_curves(curves, p, title=f"ROC: {name}"))),
               ("AUC against ratio", plot_uri(lambda p: plot_auc_vs_ratio({name: auc_ratio_points(report)}, p))),
               ("Reliability diagram", plot_uri(lambda p: plot_reliability(curves, p, threshold,
                                                                           title=f"Reliability: {name}")))]
    config = {"checkpoint": report.checkpoint or "(in memory)", "threshold": threshold,
              "aggregate": getattr(options, "aggregate", "mean"), **report.config}
    explainers = {}
    if heatmaps and report.checkpoint and not report.config.get("ensemble"):  # a heat map explains one model
        explainer = model_explainer(report.checkpoint, options)
        if explainer is not None:
            explainers[name] = explainer
    rows = report.results_frame().to_dict("records")
    page = build_report({name: report}, rows, title=f"dfdetect eval: {name}", config=config,
                        threshold=threshold, figures=figures, explainers=explainers)
    return write_report(path, page)


def write_benchmark_report(result: "BenchmarkResult", reports: Mapping[str, "EvalReport"], options: Any = None) -> Path:
    """The benchmark's OUT/report.html: every model × loss, from the figures it already drew."""
    import pandas as pd

    from dfdetect.report.figures import file_uri
    from dfdetect.report.html import build_report, write_report

    threshold = getattr(options, "threshold", None)
    threshold = 0.5 if threshold is None else float(threshold)
    figures = [(Path(p).stem.replace("_", " "), file_uri(p)) for p in result.plots if Path(p).is_file()]
    config: dict[str, Any] = {"output": str(result.out_dir), "splits": str(result.splits_dir)}
    if options is not None:
        from dataclasses import asdict, is_dataclass

        if is_dataclass(options):
            config.update({k: v for k, v in asdict(options).items() if k not in ("out",)})
    config["runs"] = {k: str(v) for k, v in result.runs.items()}
    config["timings (s)"] = {k: round(v, 1) for k, v in result.timings.items()}
    explainers = {}
    for label, run in result.runs.items():
        try:
            explainer = model_explainer(run, options)
        except Exception:  # a missing checkpoint only costs the heat maps
            explainer = None
        if explainer is not None:
            explainers[label] = explainer
    rows = pd.DataFrame(result.rows).to_dict("records")
    page = build_report(dict(reports), rows, title="dfdetect benchmark", config=config, threshold=threshold,
                        figures=figures, explainers=explainers, mistakes_per_kind=3)
    return write_report(Path(result.out_dir) / "report.html", page)
