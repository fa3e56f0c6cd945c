from __future__ import annotations

import numpy as np
import pytest

from claimstance.evaluation import compute_metrics, expected_calibration_error


def test_metrics_on_a_hand_made_example():
    gold = [
        "pledge",
        "pledge",
        "warning",
        "none",
        "none",
        "none",
        "attributed_claim",
        "official_statement",
    ]
    pred = [
        "pledge",
        "warning",
        "warning",
        "none",
        "none",
        "pledge",
        "official_statement",
        "official_statement",
    ]
    m = compute_metrics(gold, pred)
    # By hand: pledge P=1/2 R=1/2 F=1/2; warning P=1/2 R=1 F=2/3; none P=1 R=2/3 F=4/5;
    # attributed_claim F=0; official_statement P=1/2 R=1 F=2/3.
    assert m["per_label"]["pledge"]["f1"] == pytest.approx(0.5)
    assert m["per_label"]["warning"]["f1"] == pytest.approx(2 / 3)
    assert m["per_label"]["none"]["f1"] == pytest.approx(0.8)
    assert m["per_label"]["none"]["recall"] == pytest.approx(2 / 3)
    assert m["per_label"]["attributed_claim"]["f1"] == 0
    assert m["per_label"]["official_statement"]["precision"] == pytest.approx(0.5)
    assert m["macro_f1"] == pytest.approx((0.5 + 2 / 3 + 0.8 + 0 + 2 / 3) / 5)
    assert m["accuracy"] == pytest.approx(5 / 8)
    assert m["n"] == 8
    cm = m["confusion_matrix"]["matrix"]
    assert cm[2] == [0, 0, 1, 1, 0]  # gold pledge: one right, one as warning
    assert cm[4] == [0, 0, 1, 0, 2]  # gold none: one as pledge
    assert sum(map(sum, cm)) == 8


def test_label_absent_everywhere_still_counts_in_macro_average():
    m = compute_metrics(["none", "none"], ["none", "none"])
    assert m["macro_f1"] == pytest.approx(1 / 5)


def test_ece_by_hand():
    # Two bins used: 0.9 confidence right twice and wrong once; 0.6 confidence right once.
    probs = np.array(
        [[0.9, 0.1, 0, 0, 0], [0.9, 0.1, 0, 0, 0], [0.1, 0.9, 0, 0, 0], [0.6, 0.4, 0, 0, 0]]
    )
    gold = [0, 0, 0, 0]
    expected = 3 / 4 * abs(2 / 3 - 0.9) + 1 / 4 * abs(1 - 0.6)
    assert expected_calibration_error(probs, gold) == pytest.approx(expected)


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="2 gold labels but 1 predictions"):
        compute_metrics(["none", "none"], ["none"])


def test_accuracy_by_length_bands():
    from claimstance.evaluation import accuracy_by_length

    texts = ["one two three", "w " * 12, "w " * 40, "w " * 35]
    bands = accuracy_by_length(texts, ["none"] * 4, ["none", "pledge", "none", "pledge"])
    by = {b["words"]: b for b in bands}
    assert list(by) == ["1-11", "12-17", "18-24", "25-34", "35+"]
    assert (by["1-11"]["n"], by["1-11"]["accuracy"]) == (1, 1.0)
    assert (by["12-17"]["n"], by["12-17"]["accuracy"]) == (1, 0.0)
    assert (by["35+"]["n"], by["35+"]["accuracy"]) == (2, 0.5)
    assert by["18-24"] == {"words": "18-24", "n": 0, "accuracy": None}


def test_accuracy_by_form_compares_sentences_with_and_without_each_form():
    from claimstance.evaluation import FORMS, accuracy_by_form, render_report

    texts = [
        'The mayor said, "We will rebuild."',  # a quote, the speaker before it
        '"We will rebuild," the mayor said.',  # a quote, the speaker after it
        "Talks resumed; the strike ended.",
        "Prices rose.",
    ]
    rows = accuracy_by_form(texts, ["pledge", "pledge", "none", "none"], ["pledge", "none"] * 2)
    by = {r["form"]: r for r in rows}
    assert list(by) == [name for name, _ in FORMS]
    assert by["a double quote mark"] == {
        "form": "a double quote mark",
        "n": 2,
        "accuracy": 0.5,
        "accuracy_without": 0.5,
    }
    assert (
        by["the speaker before a quote"]["n"],
        by["the speaker before a quote"]["accuracy"],
    ) == (
        1,
        1.0,
    )
    assert by["the speaker before a quote"]["accuracy_without"] == pytest.approx(1 / 3)
    assert (by["a semicolon"]["n"], by["a semicolon"]["accuracy"]) == (1, 0.0)
    assert by["a colon"]["n"] == 0 and by["a colon"]["accuracy"] is None
    report = render_report(
        {
            "macro_f1": 0.5,
            "accuracy": 0.5,
            "n": 4,
            "per_label": {},
            "confusion_matrix": {"labels": [], "matrix": []},
            "by_form": rows,
        },
        "t",
    )
    assert "| the speaker before a quote | 1 | 1.000 | 0.333 |" in report
    assert "| a colon | 0 | - | 0.500 |" in report
