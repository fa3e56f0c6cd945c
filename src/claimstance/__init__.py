"""claimstance: label each sentence of news text with the speech act it reports.

Public API:
    LABELS            the five labels, in id order
    load_classifier   a trained model dir -> Classifier (predict sentences in batches)
    Classifier        the one inference class used by the CLI, evaluation and Python callers
    train             TrainConfig -> trained, self-describing model dir
    evaluate          model dir + labeled file -> metrics and report files
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from claimstance.labels import LABELS

__all__ = ["LABELS", "Classifier", "load_classifier", "train", "evaluate"]
__version__ = "0.1.0"

if TYPE_CHECKING:
    from claimstance.evaluation import evaluate
    from claimstance.inference import Classifier, load_classifier
    from claimstance.training import train


def __getattr__(name: str) -> Any:
    # Lazy imports: `import claimstance` must not pay for torch and transformers.
    if name in ("Classifier", "load_classifier"):
        from claimstance import inference

        return getattr(inference, name)
    if name == "train":
        from claimstance.training import train

        return train
    if name == "evaluate":
        from claimstance.evaluation import evaluate

        return evaluate
    raise AttributeError(f"module 'claimstance' has no attribute {name!r}")
