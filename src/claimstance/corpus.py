"""The training corpus: building the document-level splits from the written rounds in data/raw/,
checking the corpus against its requirements, and the data report (counts and a chart).

No torch here. The checks are the ones `make test` runs on the committed corpus.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claimstance.data import DataError, LabeledExample, load_labeled, normalise, split_sentences
from claimstance.labels import LABELS

logger = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test")
DOMAINS = (
    "politics",
    "elections",
    "diplomacy_conflict",
    "courts_crime",
    "police_security",
    "business_markets",
    "labour",
    "health",
    "science",
    "environment",
    "weather_disasters",
    "technology",
    "transport_infrastructure",
    "education",
    "sport",
    "culture",
)
NGRAM = 8  # word n-gram length for near-duplicate detection
NEAR_DUP_SHARE = 0.5  # two sentences sharing half the 8-grams of the shorter are near duplicates


@dataclass(frozen=True)
class Requirements:
    """What the committed corpus must satisfy (data/README.md states the same)."""

    min_sentences: int = 8000
    min_per_label: int = 50
    # `none` is 28% of the real-news development set (129 of 461): a floor near it, not above it
    min_none_share: float = 0.30
    # Pledges and warnings are rare in running news; 8% keeps enough of each to learn from
    # without the corpus's prior drifting further from the news than it already is.
    min_other_share: float = 0.08
    min_domains: int = 14
    article_sentences: tuple[int, int] = (6, 20)  # newswire articles, not loose sentences


# What the committed corpus is held to now (the tests check it; data/README.md states it).
REQUIREMENTS = Requirements()


def _split_of(doc_id: str, domain: str, fractions: tuple[float, float] = (0.8, 0.9)) -> str:
    # A stable hash of the doc id, so a document never changes split when rounds are added.
    h = int(hashlib.sha256(f"{domain}/{doc_id}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "train" if h < fractions[0] else "dev" if h < fractions[1] else "test"


def _ngrams(text: str) -> set[tuple[str, ...]]:
    words = normalise(text).split()
    return {tuple(words[i : i + NGRAM]) for i in range(len(words) - NGRAM + 1)}


def near_duplicates(texts: list[str]) -> list[tuple[int, int]]:
    """Pairs (i, j), i < j, of exact (normalised) or near duplicates by word 8-gram overlap."""
    pairs: set[tuple[int, int]] = set()
    first: dict[str, int] = {}
    index: dict[tuple[str, ...], list[int]] = defaultdict(list)
    grams = [_ngrams(t) for t in texts]
    for j, text in enumerate(texts):
        key = normalise(text)
        if key in first:
            pairs.add((first[key], j))
        first.setdefault(key, j)
        shared: Counter[int] = Counter()
        for g in grams[j]:
            shared.update(index[g])
            index[g].append(j)
        for i, n in shared.items():
            if n >= NEAR_DUP_SHARE * min(len(grams[i]), len(grams[j])):
                pairs.add((i, j))
    return sorted(pairs)


def build_corpus(raw_dir: str | Path, out_dir: str | Path) -> dict[str, int]:
    """Read every data/raw/**/*.jsonl, drop duplicates, split by document, write the splits.

    Returns:
        Rows written per split.

    Raises:
        DataError: a bad row (unknown label, empty text, missing doc_id or unknown domain).
    """
    rows: list[dict[str, Any]] = []
    for path in sorted(Path(raw_dir).rglob("*.jsonl")):
        for ex in load_labeled(path):
            if not ex.doc_id:
                raise DataError(f"{ex.source}: missing 'doc_id'")
            if ex.domain not in DOMAINS:
                raise DataError(
                    f"{ex.source}: unknown domain {ex.domain!r}; expected one of {list(DOMAINS)}"
                )
            row = {
                "text": ex.text.strip(),
                "label": ex.label,
                "doc_id": ex.doc_id,
                "domain": ex.domain,
            }
            if ex.note:
                row["note"] = ex.note
            rows.append(row)
    drop = {j for _, j in near_duplicates([r["text"] for r in rows])}
    if drop:
        logger.info("dropped %d exact or near duplicate sentences", len(drop))
    splits: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    for k, row in enumerate(rows):
        if k not in drop:
            splits[_split_of(row["doc_id"], row["domain"])].append(row)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, split_rows in splits.items():
        with (out / f"{name}.jsonl").open("w", encoding="utf-8") as fh:
            for row in split_rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return {name: len(r) for name, r in splits.items()}


def load_corpus(corpus_dir: str | Path) -> dict[str, list[LabeledExample]]:
    return {s: load_labeled(Path(corpus_dir) / f"{s}.jsonl") for s in SPLITS}


def check_corpus(
    splits: dict[str, list[LabeledExample]], req: Requirements, forbidden: Iterable[str] = ()
) -> list[str]:
    """Every way the corpus falls short of its requirements, as readable lines (empty = fine)."""
    problems = []
    every = [ex for exs in splits.values() for ex in exs]
    counts = Counter(ex.label for ex in every)
    n = len(every)
    if n < req.min_sentences:
        problems.append(f"{n} sentences, need at least {req.min_sentences}")
    for label in LABELS:
        share = counts[label] / max(n, 1)
        floor = req.min_none_share if label == "none" else req.min_other_share
        if counts[label] < req.min_per_label or share < floor:
            problems.append(
                f"{label}: {counts[label]} sentences ({share:.1%}), need at least "
                f"{req.min_per_label} and {floor:.0%}"
            )
    domains = Counter(ex.domain for ex in every)
    if len(domains) < req.min_domains:
        problems.append(f"{len(domains)} domains, need at least {req.min_domains}")
    unknown = sorted(str(d) for d in domains if d not in DOMAINS)
    if unknown:
        problems.append(f"unknown domains {unknown}")
    home: dict[str, str] = {}
    for name, exs in splits.items():
        for ex in exs:
            if ex.doc_id is None:
                problems.append(f"{ex.source}: no doc_id")
            elif home.setdefault(ex.doc_id, name) != name:
                problems.append(f"{ex.source}: document {ex.doc_id} is in {home[ex.doc_id]} too")
    lo, hi = req.article_sentences
    sizes = Counter(ex.doc_id for ex in every if ex.doc_id is not None)
    problems += [
        f"document {doc}: {n} sentences, expected {lo} to {hi}"
        for doc, n in sorted(sizes.items())
        if not lo <= n <= hi
    ]
    for i, j in near_duplicates([ex.text for ex in every]):
        problems.append(f"{every[j].source}: duplicates {every[i].source}")
    banned = {normalise(t) for t in forbidden}
    problems += [
        f"{ex.source}: a sentence of the held-out real news set"
        for ex in every
        if normalise(ex.text) in banned
    ]
    return problems


def corpus_stats(splits: dict[str, list[LabeledExample]]) -> dict[str, Any]:
    """Counts per split, label and domain, sentence lengths, and rows syntok would split."""
    every = [ex for exs in splits.values() for ex in exs]
    words = sorted(len(ex.text.split()) for ex in every) or [0]
    return {
        "sentences": len(every),
        "documents": len({ex.doc_id for ex in every}),
        "per_split": {s: len(exs) for s, exs in splits.items()},
        "documents_per_split": {s: len({ex.doc_id for ex in exs}) for s, exs in splits.items()},
        "per_label": {label: sum(ex.label == label for ex in every) for label in LABELS},
        "per_label_split": {
            s: {label: sum(ex.label == label for ex in exs) for label in LABELS}
            for s, exs in splits.items()
        },
        "per_domain": dict(sorted(Counter(str(ex.domain) for ex in every).items())),
        "words": {
            "min": words[0],
            "median": words[len(words) // 2],
            "max": words[-1],
            "mean": round(sum(words) / len(words), 1),
        },
        "rows_syntok_splits": sum(len(split_sentences(ex.text)) > 1 for ex in every),
    }


def agreement(annotation_dir: str | Path) -> dict[str, dict[str, Any]]:
    """Cohen's kappa and raw agreement of the writer's label and the blind second label, per
    round file in `annotation_dir` (rows: id, first, second, settled), plus how many labels the
    adjudication changed."""
    from sklearn.metrics import cohen_kappa_score

    out: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(annotation_dir).glob("*.jsonl")):
        rows = [
            json.loads(line)
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        first = [r["first"] for r in rows]
        second = [r["second"] for r in rows]
        out[path.stem] = {
            "sentences": len(rows),
            "agreement": round(
                sum(a == b for a, b in zip(first, second, strict=True)) / max(len(rows), 1), 4
            ),
            "kappa": round(float(cohen_kappa_score(first, second, labels=list(LABELS))), 4),
            "disagreements": sum(a != b for a, b in zip(first, second, strict=True)),
            "settled_differs_from_writer": sum(r["settled"] != r["first"] for r in rows),
        }
    return out


def write_data_report(corpus_dir: str | Path, out_dir: str | Path) -> dict[str, Any]:
    """Write stats.json, report.md and a bar chart per label and domain into `out_dir`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stats = corpus_stats(load_corpus(corpus_dir))
    stats["agreement"] = agreement(Path(corpus_dir).parent / "annotation")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [1, 2.2]})
    labels = list(stats["per_label"])
    bottom = [0] * len(labels)
    for split in SPLITS:
        vals = [stats["per_label_split"][split][label] for label in labels]
        axes[0].bar(labels, vals, bottom=bottom, label=split)
        bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
    axes[0].set_title(f"sentences per label (n={stats['sentences']})")
    axes[0].tick_params(axis="x", rotation=35)
    axes[0].legend()
    axes[1].bar(list(stats["per_domain"]), list(stats["per_domain"].values()), color="tab:gray")
    axes[1].set_title("sentences per domain")
    axes[1].tick_params(axis="x", rotation=55)
    fig.tight_layout()
    fig.savefig(out / "corpus.png", dpi=110)
    plt.close(fig)
    lines = [
        "# Corpus report",
        "",
        f"{stats['sentences']} sentences in {stats['documents']} "
        f"documents; words per sentence: {stats['words']}.",
        "",
        "| label | " + " | ".join(SPLITS) + " | all | share |",
        "| --- |" + " --- |" * (len(SPLITS) + 2),
    ]
    for label in labels:
        per = [stats["per_label_split"][s][label] for s in SPLITS]
        lines.append(
            f"| {label} | "
            + " | ".join(map(str, per))
            + f" | {sum(per)} | {sum(per) / max(stats['sentences'], 1):.1%} |"
        )
    lines += ["", "| domain | sentences |", "| --- | --- |"]
    lines += [f"| {d} | {c} |" for d, c in stats["per_domain"].items()]
    if stats["agreement"]:
        lines += [
            "",
            "## Second, blind labeling pass",
            "",
            "| round | sentences | agreement | Cohen's kappa | disagreements | "
            "changed by adjudication |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        lines += [
            f"| {name} | {a['sentences']} | {a['agreement']:.3f} | {a['kappa']:.3f} | "
            f"{a['disagreements']} | {a['settled_differs_from_writer']} |"
            for name, a in stats["agreement"].items()
        ]
    lines += [
        "",
        f"Rows that syntok would split into more than one sentence: {stats['rows_syntok_splits']}.",
        "",
        "![corpus](corpus.png)",
        "",
    ]
    (out / "report.md").write_text("\n".join(lines))
    return stats
