from __future__ import annotations

import pytest

from claimstance.labels import LABELS, LabelMismatchError, check_labels, id2label, label2id


def test_round_trip():
    assert LABELS == ("official_statement", "attributed_claim", "pledge", "warning", "none")
    assert all(id2label()[label2id()[label]] == label for label in LABELS)
    assert [label2id()[label] for label in LABELS] == list(range(5))


def test_check_accepts_config_style_mapping():
    check_labels({str(i): label for i, label in enumerate(LABELS)})


@pytest.mark.parametrize(
    "found",
    [
        list(reversed(LABELS)),
        list(LABELS[:4]),
        [*LABELS[:4], "None"],
    ],
)
def test_mismatch_names_both_lists(found):
    with pytest.raises(LabelMismatchError) as err:
        check_labels(found, where="somewhere")
    assert str(list(found)) in str(err.value) and str(list(LABELS)) in str(err.value)
