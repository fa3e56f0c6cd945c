from __future__ import annotations

import numpy as np
import pytest

from claimstance.data import Document
from claimstance.inference import label_documents, load_classifier
from claimstance.labels import LABELS
from claimstance.modeling import write_meta


@pytest.fixture
def texts(fixtures):
    return [
        line.split('"text": "')[1].split('", "label"')[0]
        for line in (fixtures / "labeled_small.jsonl").read_text().splitlines()
    ]


def test_one_prediction_per_sentence_with_valid_scores(tiny_model_dir, texts):
    preds = load_classifier(str(tiny_model_dir)).predict(texts)
    assert len(preds) == len(texts)
    for p in preds:
        assert p.label in LABELS
        assert set(p.scores) == set(LABELS)
        assert sum(p.scores.values()) == pytest.approx(1.0, abs=1e-5)
        assert p.score == max(p.scores.values()) == p.scores[p.label]


def test_batch_size_does_not_change_results(tiny_model_dir, texts):
    one = load_classifier(str(tiny_model_dir), batch_size=1).predict_proba(texts)
    many = load_classifier(str(tiny_model_dir), batch_size=16).predict_proba(texts)
    np.testing.assert_allclose(one, many, atol=1e-5)
    assert (one.argmax(1) == many.argmax(1)).all()


def test_temperature_in_model_dir_is_applied(model_copy, texts):
    base = load_classifier(str(model_copy))
    logits, _ = base.logits(texts)
    write_meta(model_copy, {"temperature": 2.0})
    hot = load_classifier(str(model_copy)).predict_proba(texts)
    expected = np.exp(logits / 2) / np.exp(logits / 2).sum(1, keepdims=True)
    np.testing.assert_allclose(hot, expected, atol=1e-5)


def test_long_sentence_is_flagged_truncated(tiny_model_dir):
    long = " ".join(["the bridge"] * 40) + "."
    preds = load_classifier(str(tiny_model_dir)).predict([long, "Talks resumed."])
    assert [p.truncated for p in preds] == [True, False]


def test_empty_input_gives_empty_output(tiny_model_dir):
    assert load_classifier(str(tiny_model_dir)).predict([]) == []


class _Rows:
    def __init__(self):
        self.rows = []

    def write(self, row):
        self.rows.append(row)


@pytest.mark.parametrize("chunk_size", [1, 3, 1000])
def test_label_documents_keeps_order_across_chunks(tiny_model_dir, chunk_size):
    docs = [Document(f"d{i}", "One thing. Another thing! A third?", "x") for i in range(3)]
    docs.insert(1, Document("empty", "   ", "x"))
    out = _Rows()
    stats = label_documents(load_classifier(str(tiny_model_dir)), docs, out, chunk_size=chunk_size)
    assert [(r["doc_id"], r["sentence_index"]) for r in out.rows] == [
        (f"d{i}", j) for i in range(3) for j in range(3)
    ]
    assert stats.documents == 4 and stats.sentences == 9 and stats.empty_documents == 1
