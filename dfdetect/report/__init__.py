"""Reporting: rich tables, PNG figures and self-contained HTML reports of evaluation results.

    from dfdetect.report import write_eval_report, write_benchmark_report
"""

from dfdetect.report.pages import write_benchmark_report, write_eval_report

__all__ = ["write_benchmark_report", "write_eval_report"]
