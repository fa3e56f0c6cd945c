"""How far a careful reader of the guidelines gets on a labeled set, next to the model.

`make annotator-check` scores the blind labels of this team's annotators (`eval/annotators/*.jsonl`:
`id` and `label` only, no text) against the real-news development set's gold labels, and against
each other, and runs the model on the same sentences: which of its errors both annotators avoided
(errors a careful reading of LABELS.md does not make) and which they share (sentences where the
guidelines leave room). It writes eval/reports/annotators/report.md and metrics.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from claimstance.comparison import bootstrap_macro_f1
from claimstance.data import LabeledExample, _labeled_records, _read_text, load_labeled
from claimstance.evaluation import compute_metrics
from claimstance.labels import LABELS


def cohen_kappa(a: list[str], b: list[str]) -> float:
    """Cohen's kappa of two label sequences of the same length, as `make data-report` computes
    it (scikit-learn), and 1.0 when both hold one and the same label (scikit-learn: nan)."""
    from sklearn.metrics import cohen_kappa_score

    if not a:
        raise ValueError("kappa of no labels")
    if len(set(a) | set(b)) == 1:
        return 1.0
    return float(cohen_kappa_score(a, b))


def read_gold(path: str | Path) -> tuple[list[str], list[LabeledExample]]:
    """The ids and the labeled examples of the gold file, in file order.

    Raises:
        ValueError: a row without an `id`, or an id repeated (DataError: a bad text or label).
    """
    examples = load_labeled(path)
    ids = []
    for ex in examples:
        if ex.id is None:
            raise ValueError(f"{ex.source}: no `id` field")
        ids.append(ex.id)
    repeated = [i for i, n in Counter(ids).items() if n > 1]
    if repeated:
        raise ValueError(f"{path}: ids repeated: {repeated[:3]}")
    return ids, examples


def load_annotation(path: Path, ids: list[str]) -> list[str]:
    """An annotator's labels in the order of `ids`.

    Raises:
        ValueError: a bad line, an id repeated, missing or unknown, or a label outside LABELS.
    """
    labels: dict[str, str] = {}
    for lineno, record in _labeled_records(_read_text(path), str(path)):
        where = f"{path}:{lineno}"
        if record.get("label") not in LABELS:
            raise ValueError(f"{where}: label {record.get('label')!r} is not one of {LABELS}")
        if "id" not in record:
            raise ValueError(f"{where}: no `id` field")
        key = str(record["id"])
        if key in labels:
            raise ValueError(f"{where}: id {key!r} repeated")
        labels[key] = record["label"]
    missing = [i for i in ids if i not in labels]
    unknown = sorted(set(labels) - set(ids))
    if missing or unknown:
        raise ValueError(
            f"{path}: {len(missing)} ids of the data set have no label (first: {missing[:3]}), "
            f"{len(unknown)} labels have no sentence (first: {unknown[:3]})"
        )
    return [labels[i] for i in ids]


def score(gold: list[str], pred: list[str]) -> dict[str, Any]:
    """Macro-F1 with its bootstrap 95% interval, accuracy, kappa and per-label F1."""
    metrics = compute_metrics(gold, pred)
    lo, hi = bootstrap_macro_f1(gold, pred)
    return {
        "macro_f1": metrics["macro_f1"],
        "ci95": [lo, hi],
        "accuracy": metrics["accuracy"],
        "kappa": cohen_kappa(gold, pred),
        "f1": {label: metrics["per_label"][label]["f1"] for label in LABELS},
    }


def agreement(
    gold: list[str], annotators: dict[str, list[str]], model: list[str] | None
) -> dict[str, Any]:
    """Every annotator (and the model) against gold, annotators against each other, and the
    model's errors split by what the annotators did on them."""
    report: dict[str, Any] = {
        "n": len(gold),
        "vs_gold": {name: score(gold, labels) for name, labels in annotators.items()},
    }
    names = list(annotators)
    report["pairwise"] = {
        f"{a} vs {b}": score(annotators[a], annotators[b])
        for i, a in enumerate(names)
        for b in names[i + 1 :]
    }
    if model is not None:
        report["vs_gold"]["model"] = score(gold, model)
        errors = [i for i, (g, p) in enumerate(zip(gold, model, strict=True)) if g != p]
        right = [i for i in errors if all(labels[i] == gold[i] for labels in annotators.values())]
        same = [i for i in errors if all(labels[i] == model[i] for labels in annotators.values())]
        cells = Counter(f"{gold[i]} -> {model[i]}" for i in right)
        report["model_errors"] = {
            "errors": len(errors),
            "annotators_all_right": len(right),
            "annotators_all_same_as_model": len(same),
            "annotators_right_by_cell": dict(cells.most_common()),
        }
    return report


def render(report: dict[str, Any], data: str, model_name: str | None) -> str:
    """report.md: the tables for people."""
    lines = [
        f"# Annotators and model against the gold labels: {Path(data).name}",
        "",
        f"{report['n']} sentences. Each annotator labeled them blind: the guidelines "
        "(`LABELS.md`) and the sentence with the one before it, no gold label, no other "
        "annotator's label (`eval/annotators/README.md`). Macro-F1 with a bootstrap 95% "
        "interval.",
        "",
        "| labels | macro-F1 [95% CI] | accuracy | kappa | "
        + " | ".join(f"F1 {label}" for label in LABELS)
        + " |",
        "| --- | --- | --- | --- | " + " | ".join("---" for _ in LABELS) + " |",
    ]

    def row(name: str, s: dict[str, Any]) -> str:
        return (
            f"| {name} | {s['macro_f1']:.3f} [{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}] | "
            f"{s['accuracy']:.3f} | {s['kappa']:.3f} | "
            + " | ".join(f"{s['f1'][label]:.3f}" for label in LABELS)
            + " |"
        )

    for name, s in report["vs_gold"].items():
        label = f"model `{model_name}`" if name == "model" else f"annotator {name}"
        lines.append(row(f"{label} vs gold", s))
    for name, s in report["pairwise"].items():
        lines.append(row(f"annotators {name}", s))
    if "model_errors" in report:
        e = report["model_errors"]
        lines += [
            "",
            f"Of the model's {e['errors']} errors, every annotator gave the gold label to "
            f"{e['annotators_all_right']} and every annotator gave the model's label to "
            f"{e['annotators_all_same_as_model']}. The errors every annotator avoided, by "
            "gold -> model label:",
            "",
            "| gold -> model | sentences |",
            "| --- | --- |",
        ]
        lines += [f"| {cell} | {n} |" for cell, n in e["annotators_right_by_cell"].items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="labeled JSONL with an `id` field (the gold labels)")
    parser.add_argument("annotations", nargs="+", help="JSONL of `id` and `label`, one a file")
    parser.add_argument("--model", help="a model dir to run on the same sentences")
    parser.add_argument("--out-dir", default="eval/reports/annotators")
    args = parser.parse_args(argv)

    names = [Path(p).stem for p in args.annotations]
    if len(set(names)) < len(names) or "model" in names:
        print(
            f"annotator_agreement: annotation files need distinct names other than 'model' "
            f"(the name of a row): got {names}",
            file=sys.stderr,
        )
        return 1
    try:
        ids, examples = read_gold(args.data)
        gold = [ex.label for ex in examples]
        annotators = {
            name: load_annotation(Path(path), ids)
            for name, path in zip(names, args.annotations, strict=True)
        }
    except ValueError as err:  # DataError included
        print(f"annotator_agreement: {err}", file=sys.stderr)
        return 1
    model = None
    if args.model:
        from claimstance.inference import load_classifier

        model = [p.label for p in load_classifier(args.model).predict([ex.text for ex in examples])]
    report = agreement(gold, annotators, model)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
    text = render(report, args.data, args.model)
    (out / "report.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
