from __future__ import annotations

import csv
import io
import json
import sys

import pytest

from claimstance.cli import main
from claimstance.labels import LABELS

ROW_KEYS = {"doc_id", "sentence_index", "start", "end", "text", "label", "score", "scores", "model"}


def _check_rows(rows, documents):
    assert rows, "no output rows"
    for row in rows:
        assert ROW_KEYS <= set(row)
        assert documents[row["doc_id"]][row["start"] : row["end"]] == row["text"]
        assert row["label"] in LABELS
        assert sum(row["scores"].values()) == pytest.approx(1.0, abs=1e-4)


@pytest.fixture
def inputs(tmp_path, fixtures):
    article = (fixtures / "article.txt").read_text()
    (tmp_path / "article.txt").write_text(article)
    (tmp_path / "docs.jsonl").write_text(json.dumps({"id": "j1", "text": article}) + "\n")
    with (tmp_path / "docs.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "text"])
        writer.writerow(["c1", article])
    return tmp_path, article


@pytest.mark.parametrize(
    "name,doc_id", [("article.txt", None), ("docs.jsonl", "j1"), ("docs.csv", "c1")]
)
def test_predict_each_format_to_jsonl(tiny_model_dir, inputs, name, doc_id, capsys):
    folder, article = inputs
    path = folder / name
    assert main(["predict", str(path), "--model", str(tiny_model_dir), "-q"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    _check_rows(rows, {doc_id or str(path): article})
    assert [r["sentence_index"] for r in rows] == list(range(7))


def test_predict_directory_to_csv(tiny_model_dir, inputs):
    folder, article = inputs
    out = folder / "out" / "labels.csv"
    assert main(["predict", str(folder), "-o", str(out), "--model", str(tiny_model_dir), "-q"]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 21
    assert {r["doc_id"] for r in rows} == {str(folder / "article.txt"), "j1", "c1"}
    for r in rows:
        assert article[int(r["start"]) : int(r["end"])] == r["text"]
        total = sum(float(r[f"score_{label}"]) for label in LABELS)
        assert total == pytest.approx(1.0, abs=1e-4)


def test_predict_stdin_pre_split(tiny_model_dir, monkeypatch, capsys):
    lines = [{"id": "a", "text": "One. Two."}, {"id": "b", "text": "Three."}]
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(json.dumps(x) + "\n" for x in lines)))
    assert main(["predict", "-", "--sentences", "--model", str(tiny_model_dir), "-q"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["doc_id"], r["text"]) for r in rows] == [("a", "One. Two."), ("b", "Three.")]


def test_empty_input_gives_empty_output(tiny_model_dir, tmp_path, capsys):
    (tmp_path / "empty.jsonl").write_text("")
    assert main(["predict", str(tmp_path / "empty.jsonl"), "--model", str(tiny_model_dir)]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    "args,message",
    [
        (["predict", "MISSING.txt"], "MISSING.txt: no such file"),
        (["predict", "{bad}"], "bad.jsonl:2: not valid JSON"),
        (["predict", "{nocol}"], "nocol.csv:1: no 'text' column"),
        (["predict", "{unknown}"], "unknown suffix '.docx'"),
        (["predict", "{good}", "--model", "{tmp}/no-model"], "no model dir here"),
        (["evaluate", "{labeled_bad}"], "unknown label 'gossip'"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(
    tiny_model_dir, tmp_path, fixtures, capsys, args, message
):
    (tmp_path / "bad.jsonl").write_text('{"text": "ok"}\n{oops\n')
    (tmp_path / "nocol.csv").write_text("body\nhello\n")
    (tmp_path / "file.docx").write_text("x")
    (tmp_path / "good.txt").write_text("Fine.")
    paths = {
        "bad": tmp_path / "bad.jsonl",
        "nocol": tmp_path / "nocol.csv",
        "unknown": tmp_path / "file.docx",
        "good": tmp_path / "good.txt",
        "tmp": tmp_path,
        "labeled_bad": fixtures / "bad.jsonl",
    }
    argv = [a.format(**paths) for a in args]
    if "--model" not in argv:
        argv += ["--model", str(tiny_model_dir)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert len([line for line in err.splitlines() if "error" in line]) == 1


def test_usage_error_exits_2(capsys):
    assert main(["predict"]) == 2
    assert main(["frobnicate"]) == 2


def _evaluate_fixture(model_dir, fixtures, report_dir) -> int:
    return main(
        [
            "evaluate",
            str(fixtures / "labeled_small.jsonl"),
            "--model",
            str(model_dir),
            "--report-dir",
            str(report_dir),
            "-q",
        ]
    )


def test_evaluate_writes_report(tiny_model_dir, fixtures, tmp_path):
    report = tmp_path / "report"
    assert _evaluate_fixture(tiny_model_dir, fixtures, report) == 0
    assert sorted(p.name for p in report.iterdir()) == [
        "confusion.png",
        "errors.jsonl",
        "metrics.json",
        "report.md",
    ]
    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["n"] == 15 and 0 <= metrics["macro_f1"] <= 1
    assert metrics["provenance"]["data_sha256"]
    errors = [json.loads(line) for line in (report / "errors.jsonl").read_text().splitlines()]
    assert len(errors) == round(15 * (1 - metrics["accuracy"]))
    assert f"{metrics['macro_f1']:.3f}" in (report / "report.md").read_text()
    assert sum(band["n"] for band in metrics["by_length"]) == 15
    assert "## Accuracy by sentence length" in (report / "report.md").read_text()


def test_results_prints_rows_from_reports(tiny_model_dir, fixtures, tmp_path, capsys):
    reports = tmp_path / "reports"
    assert _evaluate_fixture(tiny_model_dir, fixtures, reports / "tiny" / "test") == 0
    assert main(["results", "--model", str(tiny_model_dir), "--reports", str(reports)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("| data | n | macro-F1")
    metrics = json.loads((reports / "tiny" / "test" / "metrics.json").read_text())
    assert out[2].startswith(f"| corpus test split | 15 | {metrics['macro_f1']:.3f} |")
    assert main(["results", "--model", "nothing", "--reports", str(reports)]) == 1
