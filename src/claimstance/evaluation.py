"""Evaluation: gold labels + the CLI's own Classifier -> metrics, and the report files people and
machines read (`metrics.json`, `report.md`, `confusion.png`, `errors.jsonl`).

Reported numbers always come from here, never from Trainer.evaluate.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from claimstance import provenance
from claimstance.calibration import softmax
from claimstance.config import EvalConfig
from claimstance.data import load_labeled
from claimstance.labels import LABELS

logger = logging.getLogger(__name__)

REPORT_FILES = ("metrics.json", "report.md", "confusion.png", "errors.jsonl")


def compute_metrics(
    gold: Sequence[str], pred: Sequence[str], probs: np.ndarray | None = None
) -> dict[str, Any]:
    """Macro-F1 (the primary figure), accuracy, per-label P/R/F1/support and the confusion matrix.

    Labels absent from both gold and predictions score 0 and still count in the macro average,
    so a model that never predicts a label is not rewarded for it.

    Args:
        gold: true labels.
        pred: predicted labels, same length.
        probs: optional (n, 5) calibrated probabilities: adds expected calibration error.
    """
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold labels but {len(pred)} predictions")
    p, r, f, s = precision_recall_fscore_support(
        gold, pred, labels=list(LABELS), average=None, zero_division=0
    )
    per_label = {
        label: {
            "precision": float(p[i]),
            "recall": float(r[i]),
            "f1": float(f[i]),
            "support": int(s[i]),
        }
        for i, label in enumerate(LABELS)
    }
    n = len(gold)
    metrics: dict[str, Any] = {
        "macro_f1": float(np.mean(f)) if n else 0.0,
        "accuracy": float(np.mean([g == q for g, q in zip(gold, pred, strict=True)])) if n else 0.0,
        "n": n,
        "per_label": per_label,
        "confusion_matrix": {
            "labels": list(LABELS),
            "rows_are": "gold",
            "matrix": confusion_matrix(gold, pred, labels=list(LABELS)).tolist() if n else [],
        },
    }
    if probs is not None and n:
        metrics["ece"] = expected_calibration_error(probs, [LABELS.index(g) for g in gold])
    return metrics


def expected_calibration_error(probs: np.ndarray, gold_ids: Sequence[int], bins: int = 10) -> float:
    """ECE of the top label's probability over equal-width bins (the usual definition)."""
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == np.asarray(gold_ids)
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        in_bin = (conf > lo) & (conf <= hi)
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - conf[in_bin].mean())
    return float(ece)


def evaluate(cfg: EvalConfig) -> dict[str, Any]:
    """Label `cfg.data_file` with the model dir and write the four report files.

    Returns:
        The metrics, as written to metrics.json.

    Raises:
        DataError: the labeled file is missing or malformed.
        ModelDirError: the model dir is missing or broken.
    """
    from claimstance.inference import load_classifier  # torch only when evaluating

    examples = load_labeled(cfg.data_file)
    classifier = load_classifier(
        cfg.model_dir, batch_size=cfg.batch_size, progress=cfg.progress, backend=cfg.backend
    )
    logger.info("evaluating %s on %d sentences of %s", cfg.model_dir, len(examples), cfg.data_file)
    logits = classifier.logits([ex.text for ex in examples])[0]
    probs = softmax(logits / classifier.temperature)
    pred = [LABELS[i] for i in probs.argmax(axis=1)]
    gold = [ex.label for ex in examples]
    metrics = compute_metrics(gold, pred, probs)
    if examples:
        gold_ids = [LABELS.index(g) for g in gold]
        metrics["temperature"] = classifier.temperature
        metrics["ece_uncalibrated"] = expected_calibration_error(softmax(logits), gold_ids)
        adapted = adapted_calibration(classifier, logits, gold_ids)
        if adapted is not None:
            metrics["adapted"] = adapted
    metrics["by_length"] = accuracy_by_length([ex.text for ex in examples], gold, pred)
    metrics["by_form"] = accuracy_by_form([ex.text for ex in examples], gold, pred)
    metrics["provenance"] = {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "model_dir": cfg.model_dir,
        "data_file": cfg.data_file,
        "data_sha256": provenance.sha256_file(cfg.data_file),
        "backend": classifier.backend,
        "git_commit": provenance.git_commit(),
        "versions": provenance.versions(),
    }
    out = Path(cfg.resolved_report_dir())
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    (out / "report.md").write_text(render_report(metrics, title=f"{Path(cfg.data_file).name}"))
    plot_confusion(metrics, out / "confusion.png")
    with (out / "errors.jsonl").open("w", encoding="utf-8") as fh:
        for ex, label, row in zip(examples, pred, probs, strict=True):
            if label != ex.label:
                scores = {lab: round(float(p), 4) for lab, p in zip(LABELS, row, strict=True)}
                fh.write(
                    json.dumps(
                        {
                            "source": ex.source,
                            "text": ex.text,
                            "gold": ex.label,
                            "pred": label,
                            "score": round(float(row.max()), 4),
                            "scores": scores,
                        },
                        ensure_ascii=False,
                    )
                    + "\n"
                )
    logger.info(
        "macro-F1 %.3f, accuracy %.3f; report in %s", metrics["macro_f1"], metrics["accuracy"], out
    )
    return metrics


def adapted_calibration(
    classifier: Any, logits: np.ndarray, gold_ids: Sequence[int]
) -> dict[str, float] | None:
    """What `predict --adapt` would score on this set (no label is used to adapt): the
    temperature, the accuracy estimated without labels, and the ECE at that temperature. None
    when the classifier cannot adapt (no confidence threshold, or too few sentences)."""
    adapted = classifier.adaptation(logits)
    if adapted is None:
        return None
    return {
        "temperature": adapted.temperature,
        "estimated_accuracy": adapted.estimated_accuracy,
        "ece": expected_calibration_error(softmax(logits / adapted.temperature), list(gold_ids)),
    }


# Sentence length in words: long sentences (mostly quotes of several sentences) are where real
# news goes wrong, so reports show accuracy per length band.
LENGTH_BANDS = ((1, 11), (12, 17), (18, 24), (25, 34), (35, None))


def _share(flags: Sequence[bool]) -> float | None:
    """The fraction of True in `flags`; None when there are none."""
    return sum(flags) / len(flags) if flags else None


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def accuracy_by_length(
    texts: Sequence[str], gold: Sequence[str], pred: Sequence[str]
) -> list[dict[str, Any]]:
    """Sentences and accuracy in each band of LENGTH_BANDS (whitespace words)."""
    bands = []
    words = [len(t.split()) for t in texts]
    right = [g == p for g, p in zip(gold, pred, strict=True)]
    for lo, hi in LENGTH_BANDS:
        inside = [
            r for r, n in zip(right, words, strict=True) if n >= lo and (hi is None or n <= hi)
        ]
        bands.append(
            {
                "words": f"{lo}-{hi}" if hi else f"{lo}+",
                "n": len(inside),
                "accuracy": _share(inside),
            }
        )
    return bands


# Forms of writing where the corpus and real news differ most (claimstance.augment restyles the
# corpus towards them): reports show the accuracy on sentences with and without each.
FORMS = (
    ("a double quote mark", r"[\"“”]"),
    (
        "the speaker before a quote",
        r"\b(said|wrote|added|stated|read|told [^\"“”]{1,40})[,:] [\"“]",
    ),
    ("a colon", r":"),
    ("square brackets", r"[\[\]]"),
    ("a semicolon", r";"),
    ("a dash", r"[—–]| - "),
)


def accuracy_by_form(
    texts: Sequence[str], gold: Sequence[str], pred: Sequence[str]
) -> list[dict[str, Any]]:
    """For each of FORMS: how many sentences have it, the accuracy on them and on the others."""
    right = [g == p for g, p in zip(gold, pred, strict=True)]
    rows = []
    for name, pattern in FORMS:
        has = [bool(re.search(pattern, t)) for t in texts]
        with_it = [r for r, h in zip(right, has, strict=True) if h]
        without = [r for r, h in zip(right, has, strict=True) if not h]
        rows.append(
            {
                "form": name,
                "n": len(with_it),
                "accuracy": _share(with_it),
                "accuracy_without": _share(without),
            }
        )
    return rows


def render_report(metrics: dict[str, Any], title: str) -> str:
    """The metrics as Markdown tables: headline figures, per-label scores, confusion matrix."""
    lines = [f"# Evaluation: {title}", ""]
    prov = metrics.get("provenance", {})
    if prov:
        lines += [
            f"Model `{prov.get('model_dir')}`, data `{prov.get('data_file')}` "
            f"(sha256 `{str(prov.get('data_sha256'))[:12]}`), commit "
            f"`{str(prov.get('git_commit'))[:10]}`, {prov.get('timestamp')}.",
            "",
        ]
    lines += [
        "| metric | value |",
        "| --- | --- |",
        f"| macro-F1 | {metrics['macro_f1']:.3f} |",
        f"| accuracy | {metrics['accuracy']:.3f} |",
    ]
    if "ece" in metrics:
        temperature = metrics.get("temperature")
        at = f" (dev temperature {temperature:.2f})" if temperature else ""
        lines.append(f"| expected calibration error{at} | {metrics['ece']:.3f} |")
    if "ece_uncalibrated" in metrics:
        before = metrics["ece_uncalibrated"]
        lines.append(f"| ECE before calibration (temperature 1) | {before:.3f} |")
    adapted = metrics.get("adapted")
    if adapted:
        lines += [
            f"| accuracy estimated without labels | {adapted['estimated_accuracy']:.3f} |",
            f"| ECE with scores adapted to this set (`predict --adapt`, temperature "
            f"{adapted['temperature']:.2f}) | {adapted['ece']:.3f} |",
        ]
    lines += [
        f"| sentences | {metrics['n']} |",
        "",
        "## Per label",
        "",
        "| label | precision | recall | F1 | support |",
        "| --- | --- | --- | --- | --- |",
    ]
    for label, m in metrics["per_label"].items():
        lines.append(
            f"| {label} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | "
            f"{m['support']} |"
        )
    cm = metrics["confusion_matrix"]
    if cm["matrix"]:
        lines += [
            "",
            "## Confusion matrix (rows: gold, columns: predicted)",
            "",
            "| gold \\ predicted | " + " | ".join(cm["labels"]) + " |",
            "| --- |" + " --- |" * len(cm["labels"]),
        ]
        for label, row in zip(cm["labels"], cm["matrix"], strict=True):
            lines.append(f"| {label} | " + " | ".join(str(v) for v in row) + " |")
    if metrics.get("by_length"):
        lines += ["", "## Accuracy by sentence length", "", "| words | sentences | accuracy |"]
        lines.append("| --- | --- | --- |")
        for band in metrics["by_length"]:
            lines.append(f"| {band['words']} | {band['n']} | {_cell(band['accuracy'])} |")
    if metrics.get("by_form"):
        lines += [
            "",
            "## Accuracy by form of writing",
            "",
            "| sentences with | sentences | accuracy | accuracy on the others |",
            "| --- | --- | --- | --- |",
        ]
        for row in metrics["by_form"]:
            lines.append(
                f"| {row['form']} | {row['n']} | {_cell(row['accuracy'])} | "
                f"{_cell(row['accuracy_without'])} |"
            )
    return "\n".join(lines) + "\n"


SUMMARY_HEADER = (
    "| data | n | macro-F1 | accuracy | ECE | ECE adapted | "
    + " | ".join(f"F1 {label}" for label in LABELS)
    + " |\n|"
    + " --- |" * (6 + len(LABELS))
)


def summary_row(metrics: dict[str, Any], name: str) -> str:
    """One Markdown table row of the headline figures: the README's results table is made of
    these (`make results` prints them from the committed reports)."""
    f1s = " | ".join(f"{metrics['per_label'][label]['f1']:.3f}" for label in LABELS)
    adapted = metrics.get("adapted")
    return (
        f"| {name} | {metrics['n']} | {metrics['macro_f1']:.3f} | {metrics['accuracy']:.3f} | "
        f"{metrics.get('ece', float('nan')):.3f} | "
        + (f"{adapted['ece']:.3f}" if adapted else "-")
        + f" | {f1s} |"
    )


def plot_confusion(metrics: dict[str, Any], path: Path) -> None:
    """Row-normalised confusion matrix as a heat map, with counts in the cells."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers
    import matplotlib.pyplot as plt

    cm = np.asarray(metrics["confusion_matrix"]["matrix"], dtype=float)
    labels = metrics["confusion_matrix"]["labels"]
    if cm.size == 0:
        cm = np.zeros((len(labels), len(labels)))
    rates = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6.4, 5.4))
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=35, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(
                j,
                i,
                f"{int(cm[i, j])}",
                ha="center",
                va="center",
                color="white" if rates[i, j] > 0.5 else "black",
                fontsize=9,
            )
    ax.set_title(f"macro-F1 {metrics['macro_f1']:.3f}  (n={metrics['n']})")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
