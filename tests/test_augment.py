from __future__ import annotations

import json
import random
import re

import pytest

from claimstance import augment
from claimstance.augment import TRANSFORMS, restyle, restyle_examples
from claimstance.data import LabeledExample


def _rng() -> random.Random:
    return random.Random(0)


def test_speaker_first_moves_the_attribution_before_the_quote():
    out = augment.speaker_first(
        '"We will reopen the bridge on Monday," said Ana Ruiz, the transport minister.', _rng()
    )
    assert re.fullmatch(
        r'Ana Ruiz, the transport minister, said[,:] "We will reopen the bridge on Monday\."', out
    )
    out = augment.speaker_first("“Is this fair?” he told reporters on Tuesday.", _rng())
    assert re.fullmatch(r"He told reporters on Tuesday[,:] “Is this fair\?”", out)
    # nothing to move: a quote inside the sentence, or a tail that is more than an attribution
    assert augment.speaker_first('The mayor called the plan "a disgrace".', _rng()) is None
    text = '"It is over," she said, adding that "nobody won".'
    assert augment.speaker_first(text, _rng()) is None


def test_speaker_first_leaves_tails_that_are_more_than_an_attribution():
    for text in (
        '"We will win," the minister said Ruiz would lead the team.',  # a reported clause
        '"We will win," said Ruiz, who said that the team was ready.',  # a second speech act
        '"We will win," said Ruiz, who starts work at 5 a.m.',  # the stop ends "a.m."
    ):
        assert augment.speaker_first(text, _rng()) is None, text


def test_straight_quotes():
    assert augment.straight_quotes("“A ‘b’ c,” she said.", _rng()) == "\"A 'b' c,\" she said."
    assert augment.straight_quotes("No quotes here.", _rng()) is None


def test_elision_stays_inside_one_quotation_and_skips_abbreviations():
    text = '"Prices rose. Dr. Mensah acted," he said. "Nothing more."'
    for seed in range(20):
        out = augment.elide_in_quote(text, random.Random(seed))
        assert "Dr. Mensah" in out and 'he said. "Nothing' in out
        assert re.search(r'"Prices rose\.? \[\.\.\.\] Dr\. Mensah acted,"', out)
    assert augment.elide_in_quote('"Why now? Nobody knows," he said.', _rng()) == (
        '"Why now? [...] Nobody knows," he said.'  # a question mark is never dropped
    )
    assert augment.elide_in_quote('"One sentence only," he said.', _rng()) is None
    # an inch mark would pair the wrong quotes: no straight-quote spans at all
    assert (
        augment.elide_in_quote('A 12" pipe burst. Crews came. "Fixed," she said.', _rng()) is None
    )


def test_bracket_initial_and_colon_need_a_whole_quoted_sentence_after_the_verb():
    assert augment.bracket_initial('He said, "The plan works."', _rng()) == (
        'He said that "[t]he plan works."'
    )
    assert augment.bracket_initial('He said, "Kaminari Station is closed."', _rng()) is None
    assert augment.bracket_initial('"The plan works," he said.', _rng()) is None
    assert augment.colon_before_quote('He said, "The plan works."', _rng()) == (
        'He said: "The plan works."'
    )
    assert augment.colon_before_quote('It said "dozens" died.', _rng()) is None
    assert augment.colon_before_quote('"No," he said, "never."', _rng()) is None


def test_reporting_verb_swaps_said_outside_quotes_for_neutral_verbs_only():
    outs = {
        augment.reporting_verb("The minister said the mine was safe.", random.Random(s))
        for s in range(40)
    }
    assert outs == {
        "The minister stated the mine was safe.",
        "The minister added the mine was safe.",
    }
    outs = {
        augment.reporting_verb("She said that it was late.", random.Random(s)) for s in range(80)
    }
    assert "She told reporters that it was late." in outs and len(outs) == 5
    for text in (
        "He is said to be ill.",  # passive
        "Rival carriers added extra flights and noted demand.",  # not "said"
        'Her mother "always said the mountain speaks slowly," he recalled.',  # inside a quote
        "VAT is a value-added tax.",
    ):
        assert augment.reporting_verb(text, _rng()) is None, text
    lead = "LIMA, May 2 — The ministry said it would act."
    assert all("added" not in augment.reporting_verb(lead, random.Random(s)) for s in range(30))


def test_semicolon_joins_full_clauses_outside_attributions_only():
    assert augment.semicolon("Prices rose, and the bank acted.", _rng()) == (
        "Prices rose; the bank acted."
    )
    assert augment.semicolon("Prices rose, and that was all.", _rng()) is None
    # the second clause would leave the attribution and become the reporter's own
    assert (
        augment.semicolon("Engineers said cracks formed, and the repairs failed.", _rng()) is None
    )
    assert augment.semicolon("She shot Ana, 47, and her son, Jo, when he ran.", _rng()) is None


def test_dashes():
    outs = {
        augment.dashes("The mayor — a former judge — resigned.", random.Random(s))
        for s in range(40)
    }
    assert "The mayor (a former judge) resigned." in outs
    assert all("—" not in o or o.count("—") == 2 for o in outs)
    assert augment.dashes("No dash.", _rng()) is None


def test_restyle_keeps_words_and_reports_what_it_applied():
    text = '"We will not leave anyone behind — not one family," said Governor Lina Osei.'
    words = set(re.findall(r"[a-z]{4,}", text.lower()))
    for seed in range(30):
        out, applied = restyle(text, random.Random(seed))
        assert 1 <= len(applied) <= 3 and set(applied) <= set(TRANSFORMS)
        # the content words survive any transform, apart from the swapped reporting verb
        assert words - {"said"} <= set(re.findall(r"[a-z]{4,}", out.lower()))
    assert restyle("Talks resumed on Tuesday.", _rng()) == ("Talks resumed on Tuesday.", [])


def test_restyle_examples_adds_labeled_copies_deterministically(fixtures):
    rows = [json.loads(line) for line in (fixtures / "labeled_small.jsonl").open()]
    examples = [
        LabeledExample(r["text"], r["label"], r.get("doc_id"), f"fx:{i}")
        for i, r in enumerate(rows)
    ]
    out, counts = restyle_examples(examples, 1.0, seed=5)
    again, _ = restyle_examples(examples, 1.0, seed=5)
    assert out == again
    assert len(out) == len(examples) + counts["sentences"] and counts["sentences"] > 0
    assert [e for e in out if e in examples] == examples  # the originals, in order
    copies = [e for e in out if e not in examples]
    assert len(copies) == counts["sentences"]
    for copy in copies:  # each right after its original, with its label, document and source
        original = out[out.index(copy) - 1]
        assert original in examples and copy.text != original.text
        assert (copy.label, copy.doc_id, copy.source) == (
            original.label,
            original.doc_id,
            original.source,
        )
    assert restyle_examples(examples, 0.0, seed=5)[0] == examples
    with pytest.raises(ValueError, match="fraction"):
        restyle_examples(examples, 1.5, seed=5)
