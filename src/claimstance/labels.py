"""The five labels: one fixed, ordered tuple, and the helpers that map them to ids.

A label's id is its position in LABELS. The order is never inferred from data, so a split that
happens to lack a label cannot shift the ids of the others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

LABELS: tuple[str, ...] = (
    "official_statement",
    "attributed_claim",
    "pledge",
    "warning",
    "none",
)


# One line each, from the project's guidelines (data/README.md has them in full).
DESCRIPTIONS: dict[str, str] = {
    "official_statement": "an institution, or an official acting for it, states its position, "
    "decision or announcement on the record",
    "attributed_claim": "a factual assertion, allegation, accusation or belief is attributed to a "
    "source, and the reporter does not vouch for it",
    "pledge": "someone commits to a future action: pledges, vows, promises, swears, commits, "
    "guarantees",
    "warning": "someone cautions about a danger, risk or consequence, urges avoiding something, or "
    "threatens a consequence if something happens",
    "none": "everything else: the reporter's own narration, background, description, analysis, "
    "questions, bylines",
}


class LabelMismatchError(ValueError):
    """A model's labels differ from the project's LABELS."""


def label2id() -> dict[str, int]:
    """Map each label to its id (its position in LABELS)."""
    return {label: i for i, label in enumerate(LABELS)}


def id2label() -> dict[int, str]:
    """Map each id back to its label."""
    return dict(enumerate(LABELS))


def check_labels(found: Sequence[str] | Mapping[int, str], where: str = "model") -> None:
    """Fail unless `found` lists exactly LABELS in the same order.

    Args:
        found: the labels in id order, or an id -> label mapping (as in config.json).
        where: what the labels came from, for the error message.

    Raises:
        LabelMismatchError: naming both lists.
    """
    if isinstance(found, Mapping):
        found = [found[k] for k in sorted(found, key=int)]
    if tuple(found) != LABELS:
        raise LabelMismatchError(
            f"{where} has labels {list(found)}, expected {list(LABELS)} in that order"
        )
