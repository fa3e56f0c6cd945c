"""What a user would use instead of claimstance, trained and run on the same data as the model:

- `CueLexicon`: reporting and commitment verb lists mapped to the five labels in the order of the
  guidelines' decision procedure (pledge, warning, official statement, attributed claim, none),
  the way rule-based quote extractors find attributions;
- `TfidfLogReg`: TF-IDF word 1-2-grams and character 2-5-grams with logistic regression;
- `EmbeddingLogReg`: frozen base-model (all-MiniLM-L6-v2) sentence embeddings, mean-pooled and
  normalised as sentence-transformers does, with logistic regression.

Each has `fit(texts, labels)` and `predict_proba(texts) -> (n, 5)` in LABELS order, so the
comparison treats them exactly like the fine-tuned model.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from claimstance.labels import LABELS

logger = logging.getLogger(__name__)


class CueLexicon:
    """Verb and phrase lists in the guidelines' order; the first list that matches decides.

    Probabilities: the chosen label gets the share of training sentences on which that rule was
    right (its precision on the training split), the rest is spread evenly, so the scores are
    calibrated on the training data by construction.
    """

    name = "cue lexicon"

    PLEDGE = (
        r"\b(pledg|vow|promis|swore\b|swear|sworn|commit(?:s|ted)? to\b|guarantee"
        r"|(?:will|would|shall)\s+(?:not\s+)?(?:never\s+)?(?:continue|ensure|fight|rebuild|build"
        r"|provide|deliver|protect|retaliate|respond|restore|hold|push|seek|keep|work)\b"
        r"|(?:vowed|pledged|promised|intends?|plans?|aims?) to\b)"
    )
    WARNING = (
        r"\b(warn|caution|threat|danger|risk|urg(?:e|ed|es|ing) (?:\w+ )?(?:not|to avoid)"
        r"|advis(?:e|ed|es|ory) against|alert(?:ed|s)?\b|could (?:lead|cause|face|result)"
        r"|may (?:continue|worsen|spread)|(?:will|would|could) (?:get|become) worse"
        r"|hazard|emergency|evacuat)"
    )
    INSTITUTION = (
        r"\b(ministry|minister|government|police|army|military|court|judge|agency|department"
        r"|spokes(?:man|woman|person)|office|council|commission|authorit(?:y|ies)|company"
        r"|firm|board|party|campaign|committee|parliament|senate|congress|cabinet|president"
        r"|prime minister|mayor|governor|secretary|official statement|statement|embassy"
        r"|bank|union|federation|organi[sz]ation|regulator|prosecutor|administration|forces"
        r"|group|corporation|club|university|hospital|airline|service|coalition|league)\b"
    )
    ANNOUNCE = (
        r"\b(announc|confirm|declar|rul(?:ed|ing)|decid|approv|order(?:ed|s)|issued|stated"
        r"|said in a statement|released|launched|appointed|suspend|reject|adopt|designat)"
    )
    ATTRIBUTION = (
        r"\b(said|says|say|told|tells|according to|claim|alleg|accus|denied|deni(?:es|al)"
        r"|reported(?:ly)?|believ|argu|insist|suggest|estimat|blam|contend|assert|maintain"
        r"|acknowledg|admit|testif|wrote|added|noted|explained|sources?|study|survey|critics)"
    )

    def __init__(self) -> None:
        self._rules = [
            ("pledge", re.compile(self.PLEDGE, re.I)),
            ("warning", re.compile(self.WARNING, re.I)),
        ]
        self._institution = re.compile(self.INSTITUTION, re.I)
        self._announce = re.compile(self.ANNOUNCE, re.I)
        self._attribution = re.compile(self.ATTRIBUTION, re.I)
        self.precision = dict.fromkeys(LABELS, 1.0 / len(LABELS))

    def label(self, text: str) -> str:
        for label, pattern in self._rules:
            if pattern.search(text):
                return label
        if self._announce.search(text) and self._institution.search(text):
            return "official_statement"
        if self._attribution.search(text):
            if self._institution.search(text) and re.search(r"\bsaid it\b|\bsaid its\b", text):
                return "official_statement"
            return "attributed_claim"
        return "none"

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> CueLexicon:
        pred = [self.label(t) for t in texts]
        for label in LABELS:
            hits = [g == p for g, p in zip(labels, pred, strict=True) if p == label]
            if hits:
                self.precision[label] = float(np.mean(hits))
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        probs = np.zeros((len(texts), len(LABELS)))
        for row, text in enumerate(texts):
            label = self.label(text)
            p = min(max(self.precision[label], 1.0 / len(LABELS)), 0.999)
            probs[row, :] = (1 - p) / (len(LABELS) - 1)
            probs[row, LABELS.index(label)] = p
        return probs


class _LogRegHead:
    """Logistic regression on features from `_features` (fitted by `_fit_features` on the train
    split), with C chosen on the dev split by macro-F1 (as the model's epoch is)."""

    GRID = (0.25, 1.0, 4.0, 16.0)

    def _fit_features(self, texts: Sequence[str]) -> Any:
        return self._features(texts)

    def _features(self, texts: Sequence[str]) -> Any:
        raise NotImplementedError

    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        dev_texts: Sequence[str],
        dev_labels: Sequence[str],
    ) -> _LogRegHead:
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import f1_score

        train_x, dev_x = self._fit_features(texts), self._features(dev_texts)
        best = None
        for c in self.GRID:
            clf = LogisticRegression(C=c, max_iter=3000)
            clf.fit(train_x, list(labels))
            score = f1_score(
                list(dev_labels), clf.predict(dev_x), average="macro", labels=list(LABELS)
            )
            logger.debug("%s C=%g dev macro-F1 %.3f", type(self).__name__, c, score)
            if best is None or score > best[0]:
                best = (score, c, clf)
        assert best is not None
        self.C, self.clf = best[1], best[2]
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Columns in LABELS order (a label missing from training gets probability 0)."""
        raw = self.clf.predict_proba(self._features(texts))
        out = np.zeros((raw.shape[0], len(LABELS)))
        for j, label in enumerate(self.clf.classes_):
            out[:, LABELS.index(label)] = raw[:, j]
        return out


class TfidfLogReg(_LogRegHead):
    name = "TF-IDF + logistic regression"

    def _fit_features(self, texts: Sequence[str]) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import FeatureUnion

        self.features = FeatureUnion(
            [
                ("words", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)),
                (
                    "chars",
                    TfidfVectorizer(
                        analyzer="char_wb", ngram_range=(2, 5), min_df=3, sublinear_tf=True
                    ),
                ),
            ]
        )
        return self.features.fit_transform(list(texts))

    def _features(self, texts: Sequence[str]) -> Any:
        return self.features.transform(list(texts))


class EmbeddingLogReg(_LogRegHead):
    name = "MiniLM embeddings + logistic regression"

    def __init__(self, base_model: str, batch_size: int = 64, progress: bool = False):
        self.base_model = base_model
        self.batch_size = batch_size
        self.progress = progress
        self._encoder: Any = None
        self._tokenizer: Any = None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Mean of the last layer over real tokens, L2-normalised (sentence-transformers' recipe
        for all-MiniLM-L6-v2), from the frozen base model."""
        import torch
        from tqdm.auto import tqdm
        from transformers import AutoModel, AutoTokenizer

        from claimstance import backends, modeling

        folder = modeling.resolve_base_model(self.base_model)
        if self._encoder is None:
            modeling.quiet_transformers()
            self._encoder = AutoModel.from_pretrained(str(folder)).eval()
            self._tokenizer = AutoTokenizer.from_pretrained(str(folder))
        ids, _ = modeling.encode(self._tokenizer, list(texts), 128)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        out = np.zeros((len(ids), self._encoder.config.hidden_size), dtype=np.float32)
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        with torch.inference_mode():
            for batch in tqdm(batches, disable=not self.progress, desc="embedding", leave=False):
                input_ids, mask = backends.pad_batch([ids[i] for i in batch], 0)
                hidden = self._encoder(
                    input_ids=torch.from_numpy(input_ids), attention_mask=torch.from_numpy(mask)
                ).last_hidden_state
                m = torch.from_numpy(mask).unsqueeze(-1).float()
                pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1)
                out[batch] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
        return out

    def _features(self, texts: Sequence[str]) -> Any:
        return self.embed(texts)
