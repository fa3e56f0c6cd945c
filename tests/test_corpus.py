"""Checks on the committed corpus (data/corpus/): they run with every `make test`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from claimstance.corpus import (
    REQUIREMENTS,
    build_corpus,
    check_corpus,
    load_corpus,
    near_duplicates,
)

ROOT = Path(__file__).resolve().parents[1]
REALNEWS = ROOT.parent / "shared" / "realnews" / "dev.jsonl"


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(ROOT / "data" / "corpus")


def test_corpus_meets_its_requirements(corpus):
    forbidden = []
    if REALNEWS.exists():
        forbidden = [
            json.loads(line)["text"] for line in REALNEWS.read_text().splitlines() if line.strip()
        ]
    problems = check_corpus(corpus, REQUIREMENTS, forbidden)
    assert problems == [], "\n".join(problems[:30])


def test_corpus_is_built_from_raw(corpus, tmp_path):
    # The committed splits are exactly what `make corpus` builds from data/raw/.
    build_corpus(ROOT / "data" / "raw", tmp_path)
    for split in ("train", "dev", "test"):
        assert (tmp_path / f"{split}.jsonl").read_text() == (
            ROOT / "data" / "corpus" / f"{split}.jsonl"
        ).read_text()


def test_near_duplicates_finds_exact_and_overlapping_sentences():
    base = (
        "The ministry said on Monday that the coastal road would reopen after repairs to the bridge"
    )
    texts = [
        base + ".",
        base.upper() + "!",
        base.replace("bridge", "tunnel") + ".",
        "A completely different sentence about the weather in the north of the country today.",
    ]
    assert near_duplicates(texts) == [(0, 1), (0, 2), (1, 2)]


def test_check_corpus_reports_each_problem(corpus):
    from dataclasses import replace

    from claimstance.corpus import Requirements

    train = corpus["train"]
    leaked = {"train": train, "dev": [replace(train[0], source="dev.jsonl:1")], "test": []}
    problems = check_corpus(
        leaked, Requirements(min_sentences=10**6, min_domains=99), forbidden=[train[1].text]
    )
    text = "\n".join(problems)
    assert "need at least 1000000" in text
    assert "domains, need at least 99" in text
    assert f"document {train[0].doc_id} is in train too" in text
    assert "duplicates" in text
    assert "held-out real news" in text
    short = {"train": train[:3], "dev": [], "test": []}
    assert any("3 sentences, expected 6 to 20" in p for p in check_corpus(short, Requirements()))


def test_data_card_states_the_current_counts(corpus):
    from claimstance.corpus import corpus_stats

    stats = corpus_stats(corpus)
    card = (ROOT / "data" / "README.md").read_text()
    assert f"{stats['sentences']:,} sentences in {stats['documents']} articles" in card
