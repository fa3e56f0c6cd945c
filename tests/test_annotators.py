"""eval/annotator_agreement.py: blind annotators against gold labels, and the model's errors."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def module():
    path = ROOT / "eval" / "annotator_agreement.py"
    spec = importlib.util.spec_from_file_location("annotator_agreement", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


GOLD = ["pledge", "warning", "none", "none", "official_statement", "attributed_claim"]


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_cohen_kappa(module):
    assert module.cohen_kappa(GOLD, GOLD) == pytest.approx(1.0)
    # two labels, half agreement, both balanced: chance agreement 0.5 -> kappa 0
    assert module.cohen_kappa(["a", "a", "b", "b"], ["a", "b", "a", "b"]) == pytest.approx(0.0)
    assert module.cohen_kappa(["a", "a"], ["a", "a"]) == 1.0
    # different label distributions: observed 0.5, expected (3*1 + 1*3) / 16 = 0.375 -> 0.2
    assert module.cohen_kappa(["a", "a", "a", "b"], ["a", "b", "b", "b"]) == pytest.approx(0.2)


def test_model_errors_split_by_annotators(module):
    model = ["pledge", "none", "none", "warning", "official_statement", "official_statement"]
    # errors at 1, 3, 5; both annotators right on 1, both like the model on 5, split on 3
    a = ["pledge", "warning", "none", "none", "official_statement", "official_statement"]
    b = ["pledge", "warning", "none", "warning", "official_statement", "official_statement"]
    report = module.agreement(GOLD, {"A": a, "B": b}, model)
    errors = report["model_errors"]
    assert errors["errors"] == 3
    assert errors["annotators_all_right"] == 1
    assert errors["annotators_all_same_as_model"] == 1
    assert errors["annotators_right_by_cell"] == {"warning -> none": 1}
    assert report["vs_gold"]["A"]["accuracy"] == pytest.approx(5 / 6)
    assert report["pairwise"]["A vs B"]["accuracy"] == pytest.approx(5 / 6)


def test_main_writes_report_and_refuses_bad_annotations(module, tmp_path, capsys):
    data = _write(
        tmp_path / "gold.jsonl",
        [{"id": f"d{i}", "text": f"Sentence {i} here.", "label": g} for i, g in enumerate(GOLD)],
    )
    # rows out of order and one label wrong: scored by id, not by position
    rows = [{"id": f"d{i}", "label": g} for i, g in enumerate(GOLD)][::-1]
    rows[0]["label"] = "none"  # d5: gold attributed_claim
    ann = _write(tmp_path / "A.jsonl", rows)
    out = tmp_path / "out"
    assert module.main([str(data), str(ann), "--out-dir", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["vs_gold"]["A"]["accuracy"] == pytest.approx(5 / 6)
    assert metrics["vs_gold"]["A"]["f1"]["pledge"] == pytest.approx(1.0)
    assert "| annotator A vs gold | " in (out / "report.md").read_text()
    for name, bad, message in [
        ("B", [{"id": "d0", "label": "pledge"}], "5 ids of the data set have no label"),
        ("C", [{"id": "d0", "label": "maybe"}], "label 'maybe' is not one of"),
        ("D", [{"id": "d0", "label": "pledge"}] * 2, "id 'd0' repeated"),
        ("model", rows, "distinct names other than 'model'"),
    ]:
        path = _write(tmp_path / f"{name}.jsonl", bad)
        assert module.main([str(data), str(path), "--out-dir", str(out)]) == 1
        assert message in capsys.readouterr().err
    twice = _write(tmp_path / "twice.jsonl", [{"id": "d0", "text": "A b.", "label": "none"}] * 2)
    assert module.main([str(twice), str(ann), "--out-dir", str(out)]) == 1
    assert "ids repeated: ['d0']" in capsys.readouterr().err


def test_main_runs_the_model(module, model_copy, tmp_path):
    data = _write(
        tmp_path / "gold.jsonl",
        [{"id": f"d{i}", "text": f"Sentence {i} here.", "label": g} for i, g in enumerate(GOLD)],
    )
    ann = _write(tmp_path / "A.jsonl", [{"id": f"d{i}", "label": g} for i, g in enumerate(GOLD)])
    out = tmp_path / "out"
    args = [str(data), str(ann), "--model", str(model_copy), "--out-dir", str(out)]
    assert module.main(args) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    errors = metrics["model_errors"]["errors"]
    assert 0 <= errors <= len(GOLD)
    # annotator A is always right, so it avoided every model error
    assert metrics["model_errors"]["annotators_all_right"] == errors
    assert metrics["vs_gold"]["model"]["accuracy"] == pytest.approx(1 - errors / len(GOLD))
