"""Calibration for text unlike the corpus: a label-free adaptation of the dev temperature.

A model's temperature is fitted on the corpus dev split (training.py), so its scores are
calibrated for text like the corpus. On real news the model is right less often than on its
own dev split while staying almost as confident, and the scores overstate it.

Average Thresholded Confidence (Garg et al., "Leveraging Unlabeled Data to Predict
Out-of-Distribution Performance", ICLR 2022) estimates a model's accuracy on unlabeled text:
on the dev split, find the confidence threshold above which the share of sentences equals the
dev accuracy; on new text, the share of sentences above that threshold estimates the accuracy
there. Adaptation then picks the temperature at which the batch's mean confidence equals that
estimate, never below the dev temperature (it only softens scores). No label of the new text is
used, and a temperature never changes which label wins:
only the scores move.

The estimate rests on an assumption: that the dev threshold separates right from wrong on the
new text about as it does on dev. On the sets we can check (corpus test, a held-out corpus
round, real news) it did; on text that is harder but where the dev scores were already
calibrated, it can underestimate the accuracy and make the scores worse. So it is opt-in
(`predict --adapt`), and the reports show calibration with and without it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

# Fewer sentences than this give too noisy an accuracy estimate: the dev temperature stays.
MIN_SENTENCES = 100
_T_BOUNDS = (0.05, 20.0)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of a (n, labels) array (inference.softmax is this function)."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def confidence_threshold(probs: np.ndarray, gold_ids: list[int] | np.ndarray) -> float:
    """The confidence (top probability) above which the share of sentences equals the accuracy
    of `probs` against `gold_ids`: fitted on the dev split, with the dev temperature applied."""
    probs = np.asarray(probs, dtype=np.float64)
    accuracy = float(np.mean(probs.argmax(1) == np.asarray(gold_ids)))
    return float(np.quantile(probs.max(1), 1.0 - accuracy))


def estimated_accuracy(probs: np.ndarray, threshold: float) -> float:
    """The share of sentences whose confidence exceeds the dev threshold."""
    return float(np.mean(np.asarray(probs).max(1) > threshold))


def temperature_for_confidence(logits: np.ndarray, target: float) -> float:
    """The temperature at which the mean top probability of softmax(logits / T) is `target`.

    The mean top probability falls as T rises, from near 1 towards 1 / (number of labels), so
    the answer is unique; a target outside what the bounds reach gets the nearer bound.
    """
    logits = np.asarray(logits, dtype=np.float64)

    def gap(log_t: float) -> float:
        return float(softmax(logits / math.exp(log_t)).max(1).mean()) - target

    lo, hi = math.log(_T_BOUNDS[0]), math.log(_T_BOUNDS[1])
    if gap(lo) <= 0:
        return _T_BOUNDS[0]
    if gap(hi) >= 0:
        return _T_BOUNDS[1]
    return float(math.exp(brentq(gap, lo, hi, xtol=1e-6)))


@dataclass(frozen=True)
class Adaptation:
    temperature: float  # the temperature the batch's scores use
    estimated_accuracy: float  # the accuracy the dev threshold predicts for the batch
    sentences: int  # how many sentences the estimate came from


def adapt(
    logits: np.ndarray, temperature: float, threshold: float, min_sentences: int = MIN_SENTENCES
) -> Adaptation | None:
    """The adapted temperature for a batch of raw logits, or None for a batch too small to
    estimate from (its scores keep the dev temperature)."""
    logits = np.asarray(logits, dtype=np.float64)
    if len(logits) < max(1, min_sentences):
        return None
    estimate = estimated_accuracy(softmax(logits / temperature), threshold)
    adapted = temperature
    # An estimate at or below chance (1 / labels) is no mean score a temperature can give.
    if estimate > 1.0 / logits.shape[1]:
        adapted = temperature_for_confidence(logits, estimate)
    # Adaptation only softens: nothing unlabeled can show the model to be surer than on dev (a
    # batch where every sentence clears the threshold would otherwise get scores of 1.0).
    return Adaptation(max(adapted, temperature), estimate, len(logits))
