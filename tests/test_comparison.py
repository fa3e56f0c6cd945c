"""Baselines and the comparison report: every system scored the same way, real-news texts kept out
of committed files, ablations that are absent said to be absent."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from claimstance import provenance
from claimstance.baselines import CueLexicon, TfidfLogReg
from claimstance.comparison import (
    CompareConfig,
    bootstrap_macro_f1,
    compare,
    paired_bootstrap_gap,
    results_table,
)
from claimstance.labels import LABELS


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Officials promised cheaper power by May.", "pledge"),
        ("The agency warned that the river could flood the lower town.", "warning"),
        (
            "The ministry announced that the border crossing will close on Friday.",
            "official_statement",
        ),
        ("Witnesses said the lorry was speeding.", "attributed_claim"),
        ("The river is wide and slow in summer.", "none"),
    ],
)
def test_cue_lexicon_follows_the_decision_order(text, label):
    assert CueLexicon().label(text) == label


def test_cue_lexicon_probabilities_are_its_training_precision():
    texts = ["Witnesses said it rained.", "Witnesses said it snowed.", "It rained."]
    lex = CueLexicon().fit(texts, ["attributed_claim", "none", "none"])
    probs = lex.predict_proba(texts)
    np.testing.assert_allclose(probs.sum(1), 1.0)
    assert probs[0, LABELS.index("attributed_claim")] == pytest.approx(0.5)
    assert probs[2, LABELS.index("none")] == pytest.approx(0.999)


def test_tfidf_baseline_learns_the_fixture(fixtures):
    rows = [
        json.loads(line) for line in (fixtures / "labeled_small.jsonl").read_text().splitlines()
    ]
    texts, labels = [r["text"] for r in rows], [r["label"] for r in rows]
    model = TfidfLogReg().fit(texts, labels, texts, labels)
    probs = model.predict_proba(texts)
    assert probs.shape == (len(texts), len(LABELS))
    np.testing.assert_allclose(probs.sum(1), 1.0)
    assert model.C in TfidfLogReg.GRID


def test_bootstrap_intervals():
    gold = list(LABELS) * 20
    assert bootstrap_macro_f1(gold, gold, samples=50) == (1.0, 1.0)
    rng = np.random.default_rng(1)
    noisy = [g if rng.random() < 0.7 else "none" for g in gold]
    lo, hi = bootstrap_macro_f1(gold, noisy, samples=200)
    assert 0 < lo < hi < 1
    glo, ghi = paired_bootstrap_gap(gold, gold, noisy, samples=200)
    assert 0 < glo <= ghi


def test_compare_writes_the_report_and_keeps_real_news_texts_out(
    tiny_model_dir, tiny_base_dir, fixtures, tmp_path
):
    rows = (fixtures / "labeled_small.jsonl").read_text().splitlines()
    for name in ("train", "dev", "test"):
        (tmp_path / f"{name}.jsonl").write_text("\n".join(rows) + "\n")
    secret = "The harbour authority said the pier would stay shut, citing storm damage."
    (tmp_path / "realnews.jsonl").write_text(
        json.dumps({"text": secret, "label": "none"}) + "\n" + "\n".join(rows[:5]) + "\n"
    )
    ablations = tmp_path / "ablations"
    ablations.mkdir()
    (ablations / "seed-9.toml").write_text(f'# another seed\noutput_dir = "{tiny_model_dir}"\n')
    (ablations / "bigger.toml").write_text('# never trained\noutput_dir = "/no/such/model"\n')
    old = tmp_path / "old-seed"
    shutil.copytree(tiny_model_dir, old)
    (old / "train_config.json").write_text(
        json.dumps({"data": {"train": {"rows": 1234, "sha256": "0" * 64}}})
    )
    (ablations / "seed-8.toml").write_text(f'# an older corpus\noutput_dir = "{old}"\n')
    other = tmp_path / "other-config"
    shutil.copytree(tiny_model_dir, other)
    train_data = {"rows": 15, "sha256": provenance.sha256_file(tmp_path / "train.jsonl")}
    (other / "train_config.json").write_text(
        json.dumps({"config": {"epochs": 1.0, "rdrop": 1.0}, "data": {"train": train_data}})
    )
    (ablations / "epochs-2.toml").write_text(f'# two epochs\noutput_dir = "{other}"\nepochs = 2\n')
    probes = tmp_path / "probes.jsonl"
    probes.write_text(
        "".join(
            json.dumps({"text": t, "label": lab, "rule": "r"}) + "\n"
            for t, lab in [("Police arrested two men.", "none"), ("She vowed to win.", "pledge")]
        )
    )
    out = tmp_path / "report"
    report = compare(
        CompareConfig(
            model_dir=str(tiny_model_dir),
            train_file=str(tmp_path / "train.jsonl"),
            dev_file=str(tmp_path / "dev.jsonl"),
            test_file=str(tmp_path / "test.jsonl"),
            realnews_file=str(tmp_path / "realnews.jsonl"),
            probes_file=str(probes),
            out_dir=str(out),
            ablations=str(ablations),
            base_model=str(tiny_base_dir),
            bootstrap=20,
        )
    )
    assert {p.name for p in out.iterdir()} >= {
        "report.md",
        "metrics.json",
        "f1_by_label.png",
        "reliability.png",
        "confusion.png",
        "realnews-errors.jsonl",
    }
    assert set(report["systems"]) == {
        "cue lexicon",
        "TF-IDF + logistic regression",
        "MiniLM embeddings + logistic regression",
        "claimstance",
    }
    for per in report["systems"].values():
        lo, hi = per["realnews"]["macro_f1_ci95"]
        assert lo <= hi
    by_name = {row["name"]: row for row in report["ablations"]}
    assert by_name["bigger"]["status"] == "not trained"
    assert "ensemble-2-seeds" in by_name  # base + seed-9; seed-8 saw another train file
    assert by_name["seed-8"]["stale"] and not by_name["seed-9"]["stale"]
    assert by_name["epochs-2"]["stale_reason"] == "another config (epochs 1.0 -> 2)"
    assert "earlier corpus (1,234 train sentences)" in (out / "report.md").read_text()
    assert "Trained on another config (epochs 1.0 -> 2)." in (out / "report.md").read_text()
    assert set(report["targets"]) == {
        "macro_f1",
        "margin_over_best_baseline",
        "pledge_f1",
        "warning_f1",
        "ece",
    }
    probed = report["guideline_examples"]
    assert probed["n"] == 2 and set(probed["correct"]) == set(report["systems"])
    assert probed["correct"]["claimstance"] == 2 - len(probed["misses"])
    assert all(m["pred"] != m["label"] for m in probed["misses"])
    assert "## The guidelines' own examples" in (out / "report.md").read_text()
    committed = (out / "report.md").read_text() + (out / "metrics.json").read_text()
    assert secret not in committed
    assert "realnews.jsonl:1" in committed or "realnews.jsonl:" in committed
    assert results_table(report).count("\n") == 1 + len(report["systems"])
