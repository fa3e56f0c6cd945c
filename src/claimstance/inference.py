"""Inference: the `Classifier` that turns sentences into calibrated label probabilities, and the
batch pipeline that labels whole documents for the CLI.

Sentences are tokenized in one call of the Rust tokenizer, sorted by token length into batches
so little time goes on padding, run through the chosen backend (torch, ONNX float32 or ONNX int8,
see backends.py) and returned in input order. torch is imported only for the torch backend.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from claimstance import backends
from claimstance.calibration import Adaptation, adapt, softmax
from claimstance.config import DEFAULT_MODEL_DIR
from claimstance.data import Document, PredictionWriter, Sentence, document_sentences
from claimstance.labels import LABELS

__all__ = ["Classifier", "EnsembleClassifier", "Prediction", "load_classifier", "softmax"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prediction:
    label: str
    score: float  # calibrated probability of `label`
    scores: dict[str, float]  # every label's probability; they sum to 1
    truncated: bool = False  # the sentence was longer than max_length and labeled from its start


class Classifier:
    """Labels sentences with a model dir's backend. Used by the CLI, evaluation and Python callers.

    Build one with `load_classifier`; the constructor takes the parts so tests can swap them.
    """

    def __init__(
        self,
        model: backends.ModelDir,
        runner: backends.Runner,
        backend: str,
        batch_size: int = 64,
        progress: bool = False,
    ):
        self.model_dir = model
        self.runner = runner
        self.backend = backend
        self.batch_size = batch_size
        self.progress = progress
        self.tokenizer = backends.load_tokenizer(model.path)
        self.pad_id = backends.pad_id(self.tokenizer)
        self.labels: tuple[str, ...] = model.labels
        self.max_length = model.max_length
        self.temperature = model.temperature
        self.confidence_threshold = model.confidence_threshold
        self.name = str(model.path)

    def logits(self, texts: Sequence[str]) -> tuple[np.ndarray, list[bool]]:
        """Raw (uncalibrated) logits, shape (len(texts), 5), and which texts were truncated."""
        ids, truncated = backends.encode(self.tokenizer, list(texts), self.max_length)
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        for batch in tqdm(
            batches,
            disable=not self.progress or len(batches) < 2,
            desc="batches",
            unit="batch",
            leave=False,
        ):
            out[batch] = self.runner(*backends.pad_batch([ids[i] for i in batch], self.pad_id))
        return out, truncated

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities, shape (len(texts), 5), columns in LABELS order."""
        logits, _ = self.logits(texts)
        return softmax(logits / self.temperature)

    def adaptation(self, logits: np.ndarray) -> Adaptation | None:
        """The temperature adapted to a batch of raw logits unlike the corpus (calibration.py),
        or None: a batch too small, or a model dir without a confidence threshold."""
        if self.confidence_threshold is None:
            return None
        return adapt(logits, self.temperature, self.confidence_threshold)

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """One Prediction per text, in input order."""
        if not texts:
            return []
        return self.predictions(*self.logits(texts))

    def predictions(
        self, logits: np.ndarray, truncated: list[bool], temperature: float | None = None
    ) -> list[Prediction]:
        """Predictions from raw logits, scored at `temperature` (default: the dev temperature)."""
        probs = softmax(logits / (temperature or self.temperature))
        preds = []
        for row, trunc in zip(probs, truncated, strict=True):
            best = int(row.argmax())
            scores = {label: float(p) for label, p in zip(self.labels, row, strict=True)}
            preds.append(Prediction(self.labels[best], float(row[best]), scores, trunc))
        return preds


class EnsembleClassifier(Classifier):
    """A Classifier over an ensemble dir (ensemble.py): its `logits` are the log of the mean of
    the members' calibrated probabilities, and its temperature is the ensemble's own."""

    def __init__(
        self,
        path: str,
        members: list[Classifier],
        temperature: float,
        batch_size: int,
        confidence_threshold: float | None = None,
    ):
        self.members = members
        self.labels = members[0].labels
        self.backend = members[0].backend
        self.batch_size = batch_size
        self.progress = members[0].progress
        self.max_length = min(m.max_length for m in members)
        self.temperature = temperature
        self.confidence_threshold = confidence_threshold
        self.name = path

    def logits(self, texts: Sequence[str]) -> tuple[np.ndarray, list[bool]]:
        """Log of the members' mean calibrated probability; truncated if any member cut the text."""
        total = np.zeros((len(texts), len(self.labels)))
        truncated = [False] * len(texts)
        for member in self.members:
            logits, cut = member.logits(texts)
            total += softmax(logits / member.temperature)
            truncated = [a or b for a, b in zip(truncated, cut, strict=True)]
        return np.log(np.clip(total / len(self.members), 1e-12, 1.0)).astype(np.float32), truncated


def load_classifier(
    model_dir: str = DEFAULT_MODEL_DIR,
    batch_size: int = 64,
    progress: bool = False,
    threads: int = 0,
    backend: str = "auto",
) -> Classifier:
    """Load a trained model dir as a Classifier.

    Args:
        model_dir: the dir `claimstance train` wrote.
        batch_size: sentences per forward pass.
        progress: show a progress bar over batches.
        threads: CPU threads for one forward pass (0: one per core available to the process).
        backend: 'auto' (the fastest present: onnx-int8, onnx, torch), or one of them.

    Raises:
        ModelDirError: the dir is missing, incomplete, for other labels, or lacks the backend.
    """
    from claimstance.ensemble import is_ensemble_dir, read_members

    if is_ensemble_dir(model_dir):
        paths, meta = read_members(model_dir)
        members = load_members(paths, batch_size, progress, threads, backend)
        logger.debug("%s: ensemble of %d, backend %s", model_dir, len(members), members[0].backend)
        threshold = meta.get("confidence_threshold")
        return EnsembleClassifier(
            str(model_dir),
            members,
            float(meta.get("temperature", 1.0)),
            batch_size,
            None if threshold is None else float(threshold),
        )
    model = backends.open_model_dir(model_dir)
    return _classifier(model, model.resolve(backend), batch_size, progress, threads)


def load_members(
    paths: Sequence[str | Path],
    batch_size: int = 64,
    progress: bool = False,
    threads: int = 0,
    backend: str = "auto",
) -> list[Classifier]:
    """An ensemble's members, all on one backend: `backend`, or for 'auto' the fastest that every
    member has. Each member dir is opened and checked once.

    Raises:
        ModelDirError: a member is missing or broken, lacks `backend`, or none is common.
    """
    from claimstance.ensemble import common_backend

    models = [backends.open_model_dir(p) for p in paths]
    if backend == "auto":
        chosen = common_backend({str(m.path): m.available() for m in models})
    else:
        chosen = backend
        for m in models:
            m.resolve(backend)  # a missing or stale file is an error, as for a single model
    return [_classifier(m, chosen, batch_size, progress, threads) for m in models]


def _classifier(
    model: backends.ModelDir, backend: str, batch_size: int, progress: bool, threads: int
) -> Classifier:
    logger.debug("%s: backend %s", model.path, backend)
    runner = backends.make_runner(model, backend, threads)
    return Classifier(model, runner, backend, batch_size=batch_size, progress=progress)


@dataclass
class LabelStats:
    documents: int = 0  # documents taken in: labeled_documents + empty_documents
    labeled_documents: int = 0  # with at least one sentence
    empty_documents: int = 0  # nothing but whitespace: no rows
    sentences: int = 0  # rows written
    truncated: int = 0
    labels: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LABELS, 0))
    # With adapt: the temperature every score of the run uses, fixed on its first chunk (kept in
    # the resume journal), the accuracy estimated there, and how many sentences it came from.
    temperature: float | None = None
    estimated_accuracy: float | None = None
    adapted_from: int = 0


def label_documents(
    classifier: Classifier,
    documents: Iterable[Document],
    writer: PredictionWriter,
    pre_split: bool = False,
    chunk_size: int = 4096,
    progress: bool = False,
    stats: LabelStats | None = None,
    on_chunk: Callable[[LabelStats], None] | None = None,
    adapt: bool = False,
) -> LabelStats:
    """Split documents into sentences, label them in chunks and write one row per sentence.

    Documents are consumed lazily and sentences gathered `chunk_size` at a time, so memory stays
    flat on inputs of any size while batches are still long enough to sort by length. A chunk
    always ends with a whole document, so chunks are a deterministic function of the input:
    `on_chunk(stats)` is called after each chunk's rows are written (the runner checkpoints
    there), and `stats` may carry the counts of documents labeled before (a resumed run).

    With `adapt`, the first chunk's sentences fix the temperature of every score in the run
    (calibration.py: label-free, and it never changes a label); a chunk with too few sentences,
    or a model dir without a confidence threshold, keeps the dev temperature.
    """
    stats = stats if stats is not None else LabelStats()
    bar = tqdm(disable=not progress, desc="labeling", unit=" sent")
    for chunk in _chunks(documents, chunk_size, pre_split, stats):
        logits, truncated = classifier.logits([s.text for s in chunk])
        if adapt and stats.temperature is None:
            adapted = classifier.adaptation(logits)
            stats.temperature = adapted.temperature if adapted else classifier.temperature
            if adapted:
                stats.estimated_accuracy = adapted.estimated_accuracy
                stats.adapted_from = adapted.sentences
        preds = classifier.predictions(logits, truncated, stats.temperature)
        for sentence, pred in zip(chunk, preds, strict=True):
            row = {
                "doc_id": sentence.doc_id,
                "doc_index": sentence.doc_index,
                "record": sentence.record,
                "sentence_index": sentence.index,
                "start": sentence.start,
                "end": sentence.end,
                "text": sentence.text,
                "label": pred.label,
                "score": round(pred.score, 6),
                "scores": {k: round(v, 6) for k, v in pred.scores.items()},
                "model": classifier.name,
            }
            if pred.truncated:
                row["truncated"] = True
                stats.truncated += 1
            writer.write(row)
            stats.labels[pred.label] += 1
        stats.sentences += len(chunk)
        bar.update(len(chunk))
        if on_chunk is not None:
            on_chunk(stats)
    bar.close()
    if stats.truncated:
        logger.warning(
            "%d sentence%s longer than %d word pieces, labeled from %s start "
            '(flagged "truncated": true)',
            stats.truncated,
            " was" if stats.truncated == 1 else "s were",
            classifier.max_length,
            "its" if stats.truncated == 1 else "their",
        )
    return stats


def _chunks(
    documents: Iterable[Document], size: int, pre_split: bool, stats: LabelStats
) -> Iterator[list[Sentence]]:
    chunk: list[Sentence] = []
    for doc in documents:
        stats.documents += 1
        sentences = document_sentences(doc, pre_split=pre_split)
        if sentences:
            stats.labeled_documents += 1
        else:
            stats.empty_documents += 1
        chunk.extend(sentences)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
