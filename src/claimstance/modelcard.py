"""The model card: a README.md written into every model dir from its own training record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from claimstance.labels import DESCRIPTIONS, LABELS


def write_model_card(model_dir: Path, info: dict[str, Any], metrics: dict[str, Any]) -> None:
    """Write `model_dir/README.md` from train_config.json's content and the dev metrics."""
    cfg = info["config"]
    data = info["data"]
    lines = [
        f"# claimstance model: {Path(cfg['output_dir']).name}",
        "",
        "Labels each sentence of English news text with the speech act it reports: "
        + ", ".join(f"`{label}`" for label in LABELS)
        + ".",
        "",
        "## Intended use",
        "",
        "Finding who promised what, who warned of what, and which assertions are someone's claim "
        "rather than established fact, in news archives, at scale, on a CPU. Use it to sort and "
        "search sentences for a person to read, not to publish labels unchecked: always check "
        "outputs against the source text.",
        "",
        "## Labels",
        "",
        "| label | meaning |",
        "| --- | --- |",
        *[f"| `{label}` | {DESCRIPTIONS[label]} |" for label in LABELS],
        "",
        "Overlaps are settled in the order pledge > warning > official_statement > "
        "attributed_claim > none (the project's guidelines, data/README.md).",
        "",
        "## Training",
        "",
        f"- Base: all-MiniLM-L6-v2 from `{cfg['base_model']}`, with a new classification head.",
        f"- Data: {data['train']['rows']} training sentences in {data['train']['documents']} "
        f"documents (`{data['train']['path']}`, sha256 `{data['train']['sha256'][:12]}`), "
        f"{data['dev']['rows']} dev sentences for model selection and calibration.",
        f"- Training labels: {data['train']['labels']}.",
        f"- {cfg['epochs']} epochs, batch {cfg['batch_size']}, "
        f"learning rate {cfg['learning_rate']}, "
        f"max length {cfg['max_length']} word pieces, seed {cfg['seed']}, "
        + (
            f"R-Drop weight {cfg['rdrop']} (two dropout passes a batch, their symmetric KL in "
            "the loss)"
            if cfg.get("rdrop")
            else "plain cross-entropy loss"
        )
        + f"; {info['train_seconds']:.0f} s on {info['torch_threads']} CPU threads.",
        *(
            [
                f"- Restyled: {info['restyled'].get('sentences', 0)} copies of training sentences "
                f"(augment {cfg['augment']}) rewritten in other news habits and added with their "
                "labels (claimstance.augment): "
                + ", ".join(f"{k} {v}" for k, v in info["restyled"].items() if k != "sentences")
                + "."
            ]
            if cfg.get("augment")
            else []
        ),
        f"- Scores are calibrated by temperature scaling on the dev split "
        f"(T = {metrics['temperature']:.3f})"
        + (
            f"; `predict --adapt` adapts it to other text from the dev confidence threshold "
            f"{metrics['confidence_threshold']:.3f} (claimstance.json)."
            if "confidence_threshold" in metrics
            else "."
        ),
        "",
        "## Dev-split metrics",
        "",
        f"macro-F1 **{metrics['macro_f1']:.3f}**, accuracy {metrics['accuracy']:.3f}, "
        f"expected calibration error {metrics['ece']:.3f} "
        f"(before calibration {metrics['ece_uncalibrated']:.3f}), n = {metrics['n']}.",
        "",
        "| label | precision | recall | F1 | support |",
        "| --- | --- | --- | --- | --- |",
        *[
            f"| {label} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} "
            f"| {m['support']} |"
            for label, m in metrics["per_label"].items()
        ],
        "",
        "The dev split is written by the same team as the training data, so it overstates "
        "accuracy on real news: see `eval/reports/` for figures on real news sentences.",
        "",
        "## Limitations",
        "",
        "- English news only; trained on sentences the team wrote, in wire style.",
        "- One label a sentence: a sentence with two acts gets the first in the order above.",
        "- Sentences longer than the max length are labeled from their start (flagged "
        "`truncated`).",
        "- The label says what kind of act a sentence reports, never whether it is true.",
        "",
        f"Provenance: git commit `{info['git_commit']}`, versions {info['versions']}.",
        "",
    ]
    (model_dir / "README.md").write_text("\n".join(lines))
