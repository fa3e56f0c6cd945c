"""Seed ensembles: a model dir that holds no weights, only the list of its member model dirs.

The members are fine-tuned from the same config with different seeds; the ensemble labels a
sentence by the mean of their calibrated probabilities, then applies its own temperature (fitted
on the dev split, like a single model's). On real news the mean of three seed runs is more accurate
and better calibrated than any one of them (eval/reports/comparison/), at three forward passes per
sentence. `claimstance ensemble` writes the dir; `load_classifier` opens it like any model dir, so
predict, evaluate and compare take `--model model/claimstance-ensemble` unchanged.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from claimstance import backends
from claimstance.backends import META_FILE, ModelDirError
from claimstance.labels import LABELS

logger = logging.getLogger(__name__)

ENSEMBLE_KEY = "ensemble"


def is_ensemble_dir(model_dir: str | Path) -> bool:
    """Whether model_dir is an ensemble dir (its claimstance.json lists members, no weights)."""
    meta = Path(model_dir) / META_FILE
    if not meta.is_file() or (Path(model_dir) / "config.json").is_file():
        return False
    try:
        return ENSEMBLE_KEY in json.loads(meta.read_text())
    except json.JSONDecodeError as err:
        raise ModelDirError(f"{model_dir}: unreadable JSON ({err})") from None


def read_members(model_dir: str | Path) -> tuple[list[Path], dict[str, Any]]:
    """The member dirs (resolved against the ensemble dir) and the ensemble's metadata.

    Raises:
        ModelDirError: no members, a missing member, or labels other than LABELS.
    """
    path = Path(model_dir)
    meta = json.loads((path / META_FILE).read_text())
    if list(meta.get("labels", LABELS)) != list(LABELS):
        raise ModelDirError(
            f"{path}/{META_FILE} has labels {meta['labels']}, expected {list(LABELS)}"
        )
    spec = meta[ENSEMBLE_KEY]
    names = spec.get("members") if isinstance(spec, dict) else None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ModelDirError(
            f"{path}/{META_FILE}: 'ensemble' must be an object with 'members', a list of paths"
        )
    if len(names) < 2:
        raise ModelDirError(f"{path}: an ensemble needs at least 2 members, found {len(names)}")
    members = [path / name for name in names]
    for member in members:
        if not member.is_dir():
            raise ModelDirError(
                f"{path}: member {member} is missing; train it (`make ensemble`) or rewrite "
                "the ensemble with `claimstance ensemble`"
            )
    return members, meta


def common_backend(available: dict[str, list[str]]) -> str:
    """The fastest backend every member has, from each member's available backends.

    Raises:
        ModelDirError: no backend is common to all of them.
    """
    common = set.intersection(*(set(found) for found in available.values()))
    for name in backends.FASTEST_FIRST:
        if name in common:
            return name
    raise ModelDirError(
        f"no backend common to all members ({available}); export them all or retrain"
    )


def write_ensemble(
    members: Sequence[str | Path],
    output: str | Path,
    dev_file: str,
    backend: str = "auto",
    progress: bool = False,
) -> dict[str, Any]:
    """Check the members, fit the ensemble's temperature on dev_file, write the ensemble dir.

    Returns:
        The dev metrics of the ensemble (calibrated), as written to its metrics.json.

    Raises:
        ModelDirError: a member is missing or broken, or fewer than 2 members.
        DataError: dev_file is missing or malformed.
    """
    from claimstance.data import load_labeled
    from claimstance.inference import EnsembleClassifier, load_members
    from claimstance.training import dev_calibration

    if len(members) < 2:
        raise ModelDirError(f"an ensemble needs at least 2 members, got {len(members)}")
    out = Path(output)
    if (out / "config.json").is_file():
        raise ModelDirError(f"{out} is a model dir; write the ensemble to a dir of its own")
    classifiers = load_members(members, backend=backend, progress=progress)  # as loading will
    dev = load_labeled(dev_file)
    mean = EnsembleClassifier(str(out), classifiers, temperature=1.0, batch_size=64)
    metrics = dev_calibration(mean.logits([ex.text for ex in dev])[0], dev)
    metrics["data"] = dev_file
    temperature = metrics["temperature"]
    out.mkdir(parents=True, exist_ok=True)
    relative = [os.path.relpath(Path(m).resolve(), out.resolve()) for m in members]
    meta = {
        ENSEMBLE_KEY: {"members": relative, "combine": "mean of calibrated probabilities"},
        "labels": list(LABELS),
        "temperature": temperature,
        "confidence_threshold": metrics["confidence_threshold"],
        "max_length": min(c.max_length for c in classifiers),
    }
    (out / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    lines = [
        f"# {out.name}: an ensemble of {len(members)} claimstance models",
        "",
        "Labels each sentence by the mean of its members' calibrated probabilities, then its own "
        f"temperature ({temperature:.3f}, fitted on `{dev_file}`). Written by "
        "`claimstance ensemble`; the members must stay where these paths point:",
        "",
        *[f"- `{r}`" for r in relative],
        "",
        f"Dev split ({len(dev)} sentences): macro-F1 {metrics['macro_f1']:.3f}, "
        f"accuracy {metrics['accuracy']:.3f}, ECE {metrics['ece']:.3f}. It costs one forward "
        "pass per member per sentence.",
        "",
    ]
    (out / "README.md").write_text("\n".join(lines))
    logger.info(
        "ensemble of %d written to %s: dev macro-F1 %.3f, ECE %.3f (temperature %.2f)",
        len(members),
        out,
        metrics["macro_f1"],
        metrics["ece"],
        temperature,
    )
    return metrics
