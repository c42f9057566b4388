"""`eval --report FILE.html` and the benchmark's report.html: one self-contained page that holds
what results.csv holds and embeds every image it shows."""

from __future__ import annotations

import base64
import math
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from dfdetect.cli import app

from _evaldata import save_tiny_checkpoint, write_test_set

ENV = {"COLUMNS": "200"}


class Page(HTMLParser):
    """Collects the tags, every URL-bearing attribute, and the table rows' cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "data", "poster", "action"):
                self.urls.append((tag, name, value or ""))
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def assert_self_contained(page: Page) -> int:
    """Every image is an embedded PNG that decodes; nothing else is fetched; no script."""
    assert "script" not in page.tags and "link" not in page.tags and "iframe" not in page.tags
    images = [v for tag, attr, v in page.urls if tag == "img"]
    assert images and len(images) == page.tags.count("img")
    assert all(tag == "img" and attr == "src" for tag, attr, _ in page.urls), page.urls
    for uri in images:
        assert uri.startswith("data:image/png;base64,")
        data = base64.b64decode(uri.split(",", 1)[1], validate=True)
        assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) is not None
    return len(images)


def expected(value) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{float(value):.3f}"


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("report")
    csvs = [write_test_set(root, "test", [0, 0, 0, 1, 1, 1, 0, 1], seed=0),
            write_test_set(root, "test_1to2_r0", [0, 0, 1, 0, 0, 1], seed=1),
            write_test_set(root, "test_1to2_r1", [0, 0, 1, 0, 1, 0], seed=2)]
    ckpt = save_tiny_checkpoint(root / "run" / "best.ckpt", frames=4, img_size=32)
    r = CliRunner().invoke(app, ["eval", str(ckpt), *map(str, csvs), "--device", "cpu", "--threshold", "0.5",
                                 "--out", str(root / "results.csv"), "--report", str(root / "report.html")], env=ENV)
    return {"root": root, "result": r, "csvs": csvs, "ckpt": ckpt}


def test_eval_report_is_self_contained_html_holding_results_csv(evaluated: dict) -> None:
    r, root = evaluated["result"], evaluated["root"]
    assert r.exit_code == 0, r.output
    assert "report:" in r.stderr
    page = parse(root / "report.html")
    assert_self_contained(page)
    results = pd.read_csv(root / "results.csv")
    header = next(row for row in page.rows if "set" in row and "AUC" in row)
    body = {row[header.index("set")]: row for row in page.rows if len(row) == len(header) and row is not header}
    for rec in results.to_dict("records"):
        name = rec["set"] + (f" (×{int(rec['repeats'])})" if rec["kind"] == "repeats" else "")
        row = body[name]
        assert row[header.index("n_real")] == str(int(rec["n_real"]))
        assert row[header.index("n_fake")] == str(int(rec["n_fake"]))
        for metric, title in (("auc", "AUC"), ("ap", "AP"), ("eer", "EER"), ("acc", "Acc"), ("f1", "F1"),
                              ("frame_auc", "fAUC")):
            cell = row[header.index(title)]
            assert cell.startswith(expected(rec[metric])), (name, metric, cell, rec[metric])
            if rec["kind"] == "repeats" and not math.isnan(rec[f"{metric}_std"]):
                assert f"± {rec[f'{metric}_std']:.3f}" in cell
    # config and data sections name the checkpoint and every test CSV
    text = (root / "report.html").read_text()
    assert str(evaluated["ckpt"]) in text
    assert all(str(c) in text for c in evaluated["csvs"])


def test_eval_report_shows_confusion_and_confident_mistakes(evaluated: dict) -> None:
    root = evaluated["root"]
    page = parse(root / "report.html")
    text = (root / "report.html").read_text()
    scores = pd.read_csv(root / "results.csv")
    natural = scores[scores["set"] == "test"].iloc[0]
    # the confusion matrix of test.csv adds up to its videos
    cm = [row for row in page.rows if row and row[0] in ("fake", "real") and len(row) == 3]
    assert sum(int(v) for row in cm[:2] for v in row[1:]) == natural["n_real"] + natural["n_fake"]
    # an untrained model makes mistakes: each shows a face, a Grad-CAM map and a score timeline
    assert "false fake" in text or "missed fake" in text
    alts = [v for tag, attr, v in page.urls]
    n_cards = text.count('class="card"')
    assert n_cards >= 1
    assert text.count('alt="face"') == n_cards
    assert text.count('alt="Grad-CAM, frame') == n_cards
    assert text.count('alt="score timeline"') == n_cards
    assert len(alts) == 3 + 3 * n_cards  # ROC, AUC-vs-ratio, reliability diagram, then 3 per mistake


def test_intervals_are_rendered_when_results_have_them() -> None:
    from dfdetect.report.html import metrics_table

    row = {"kind": "set", "set": "test", "ratio": "1:1", "n_real": 5, "n_fake": 5, "auc": 0.9, "auc_lo": 0.81,
           "auc_hi": 0.97, "frame_auc": 0.7, "fauc_lo": 0.6, "fauc_hi": 0.8, "ap": float("nan")}
    table = metrics_table([row])
    assert "0.900 <span class=\"ci\">[0.810, 0.970]</span>" in table
    assert "[0.600, 0.800]" in table and "n/a" in table
    assert "[" not in metrics_table([{**row, "auc_lo": None, "fauc_lo": float("nan")}]).split("</tr>", 1)[1].split("<p")[0]


def test_html_escapes_names(tmp_path: Path) -> None:
    from dfdetect.report.html import kv_table, metrics_table

    assert "<b>" not in kv_table({"model": "<b>x</b>"}) and "&lt;b&gt;" in kv_table({"model": "<b>x</b>"})
    assert "<script>" not in metrics_table([{"set": "<script>", "n_real": 1, "n_fake": 1, "auc": 0.5}])


def test_benchmark_report_from_its_results(evaluated: dict, tmp_path: Path) -> None:
    from dfdetect.benchmarking.runner import BenchmarkOptions, BenchmarkResult
    from dfdetect.checkpoint import load_model
    from dfdetect.evaluation.evaluate import EvalOptions, evaluate_model
    from dfdetect.report.plots import plot_roc_curves
    from dfdetect.report import write_benchmark_report

    model, config = load_model(evaluated["ckpt"], device="cpu")
    report = evaluate_model(model, config, evaluated["csvs"], EvalOptions(device="cpu"))
    result = BenchmarkResult(tmp_path, evaluated["root"], runs={"dual+bce": evaluated["ckpt"].parent})
    result.rows = [{"model": "dual", "loss": "bce", **row} for row in report.set_rows()]
    result.plots = [plot_roc_curves([("test", report.sets[0].labels, report.sets[0].video_scores)], tmp_path / "roc_test.png")]
    path = write_benchmark_report(result, {"dual+bce": report}, BenchmarkOptions(out=tmp_path, seed=3))
    assert path == tmp_path / "report.html"
    page = parse(path)
    assert_self_contained(page)
    header = next(row for row in page.rows if "set" in row and "AUC" in row)
    assert header[:2] == ["model", "loss"]
    for rec in result.rows:
        row = next(r for r in page.rows if len(r) == len(header) and r[header.index("set")] == rec["set"])
        assert row[header.index("AUC")].startswith(expected(rec["auc"]))
