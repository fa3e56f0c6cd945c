"""The README's results table must match the committed evaluation reports it was made from."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from claimstance.evaluation import summary_row

ROOT = Path(__file__).resolve().parents[1]
REPORTS = {
    "corpus test split": ROOT / "eval/reports/claimstance-minilm/test/metrics.json",
    "real news dev set": ROOT / "eval/reports/claimstance-minilm/realnews-dev/metrics.json",
}


REPORTS |= {
    "ensemble, corpus test split": ROOT / "eval/reports/claimstance-ensemble/test/metrics.json",
    "ensemble, real news dev set": ROOT
    / "eval/reports/claimstance-ensemble/realnews-dev/metrics.json",
}


@pytest.mark.parametrize("name", list(REPORTS))
def test_readme_results_match_metrics(name):
    if name.startswith("ensemble") and not REPORTS[name].is_file():
        pytest.skip("no ensemble report committed")
    metrics = json.loads(REPORTS[name].read_text())
    assert summary_row(metrics, name) in (ROOT / "README.md").read_text()


def test_summary_row_format():
    metrics = {
        "n": 3,
        "macro_f1": 0.5,
        "accuracy": 2 / 3,
        "ece": 0.1,
        "per_label": {
            label: {"f1": 0.25}
            for label in ("official_statement", "attributed_claim", "pledge", "warning", "none")
        },
    }
    assert summary_row(metrics, "x") == (
        "| x | 3 | 0.500 | 0.667 | 0.100 | - | 0.250 | 0.250 | 0.250 | 0.250 | 0.250 |"
    )


def test_readme_comparison_table_matches_the_comparison_report():
    from claimstance.comparison import results_table

    report = json.loads((ROOT / "eval/reports/comparison/metrics.json").read_text())
    assert results_table(report) in (ROOT / "README.md").read_text()


def test_readme_bench_table_matches_the_bench_report():
    table = (ROOT / "eval/reports/bench/bench.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    readme = (ROOT / "README.md").read_text()
    assert rows and all(row in readme for row in rows)


def test_readme_annotator_table_matches_the_annotator_report():
    lines = (ROOT / "eval/reports/annotators/report.md").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| labels"))
    rows = list(itertools.takewhile(lambda line: line.startswith("|"), lines[start:]))
    readme = (ROOT / "README.md").read_text()
    assert len(rows) >= 4 and all(row in readme for row in rows)
