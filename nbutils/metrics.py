"""Scores: accuracy and the confusion matrix for classifiers, exact match and chrF for translations.

For a classifier: ``accuracy`` (the share of right answers) and ``confusion_matrix`` (which class was taken for
which). For translations, two numbers tell how close a machine translation (the *hypothesis*) is to the
reference translation:

- **exact match**: the share of sentences translated exactly right, character for character. Strict and easy
  to read, but a sentence with one wrong letter ("Le chat est sur le toits.") counts as much as nonsense.
- **chrF** (Popović, 2015, "chrF: character n-gram F-score for automatic MT evaluation"): partial credit,
  measured with *character n-grams*, the runs of n consecutive characters. Spaces are removed first, then
  for each n from 1 to 6:

  - precision P_n: the share of the hypothesis' n-grams that also occur in the reference,
  - recall R_n: the share of the reference's n-grams that also occur in the hypothesis,

  both counting an n-gram at most as often as it occurs on the other side ("clipped" counts). The
  precisions and recalls are averaged over n (P and R), and combined into an F-score that weighs recall
  ``beta`` times as much as precision (beta = 2, as recommended by Popović, 2016)::

      chrF = 100 · (1 + beta²) · P · R / (beta² · P + R)

  Identical strings score 100, strings with no character in common score 0. Character n-grams reward a
  nearly right word ("toits" shares "toit" with "toit"), which suits a language where one word has four
  forms (noir, noire, noirs, noires).

Sentence level: ``chrf("Le chat dort.", "Le chat dort.")``. Corpus level: pass two lists; the n-gram counts
of all sentences are added up before P and R are computed (as sacreBLEU does), so long sentences weigh more.
This module follows sacreBLEU's default chrF (``CHRF()``: 6 character orders, no word n-grams, beta 2,
whitespace removed; an order that a side is too short to have is left out of the averages).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Sequence, Union

import torch

__all__ = ["accuracy", "confusion_matrix", "char_ngrams", "NgramCounts", "chrf_statistics", "chrf_precision_recall",
           "chrf_from_statistics", "chrf", "sentence_chrf", "exact_match", "wilson_interval", "mean_interval", "distinct_n"]

_SPACES = re.compile(r"\s+")
Text = Union[str, Sequence[str]]


@dataclass(frozen=True)
class NgramCounts:
    """The counts behind chrF for one n-gram order: n-grams in the hypothesis, in the reference, and shared
    (clipped: an n-gram occurring 2 times in one and 3 times in the other is shared 2 times)."""

    hypothesis: int
    reference: int
    matches: int

    def __add__(self, other: "NgramCounts") -> "NgramCounts":
        return NgramCounts(self.hypothesis + other.hypothesis, self.reference + other.reference,
                           self.matches + other.matches)


# --------------------------------------------------------------------------------------------- classifiers
def accuracy(predictions, labels) -> float:
    """The fraction of predictions equal to the labels. ``predictions`` are class numbers (N,) or logits
    / probabilities (N, n_classes), whose argmax is the predicted class."""
    predictions = torch.as_tensor(predictions)
    labels = torch.as_tensor(labels)
    if predictions.dim() == 2:
        predictions = predictions.argmax(dim=-1)
    if predictions.shape != labels.shape or labels.dim() != 1:
        raise ValueError(f"predictions {tuple(predictions.shape)} and labels {tuple(labels.shape)} must both "
                         f"have shape (N,) (or predictions (N, n_classes))")
    if labels.numel() == 0:
        raise ValueError("accuracy of nothing: there are no labels")
    return (predictions.cpu() == labels.cpu()).double().mean().item()


def confusion_matrix(predictions, labels, n_classes: int = 2) -> torch.Tensor:
    """A (n_classes, n_classes) table of counts: row = true class, column = predicted class."""
    predictions = torch.as_tensor(predictions).cpu().long()
    labels = torch.as_tensor(labels).cpu().long()
    if predictions.dim() == 2:
        predictions = predictions.argmax(dim=-1)
    if predictions.shape != labels.shape or labels.dim() != 1:
        raise ValueError(f"predictions {tuple(predictions.shape)} and labels {tuple(labels.shape)} must both "
                         f"have shape (N,)")
    for name, values in (("predictions", predictions), ("labels", labels)):
        if values.numel() and (int(values.min()) < 0 or int(values.max()) >= n_classes):
            raise ValueError(f"{name} must be in [0, {n_classes}), got values up to {int(values.max())}")
    return torch.bincount(labels * n_classes + predictions, minlength=n_classes * n_classes).view(n_classes, n_classes)


# --------------------------------------------------------------------------------------------- checks
def _check_str(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, got {type(value).__name__}")
    return value


def _check_order(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n (the largest n-gram order) must be an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"n (the largest n-gram order) must be >= 1, got {n}")
    return n


def _check_beta(beta: object) -> float:
    if isinstance(beta, bool) or not isinstance(beta, (int, float)):
        raise TypeError(f"beta must be a number, got {type(beta).__name__}")
    if not beta >= 0:
        raise ValueError(f"beta must be >= 0 (how much more recall counts than precision), got {beta}")
    return float(beta)


def _as_pairs(hypothesis: Text, reference: Text) -> list[tuple[str, str]]:
    """One (hypothesis, reference) pair, or the pairs of two equally long lists."""
    if isinstance(hypothesis, str) and isinstance(reference, str):
        return [(hypothesis, reference)]
    if isinstance(hypothesis, str) or isinstance(reference, str):
        raise TypeError("give two strings (one sentence) or two lists of strings (a corpus), not one of each")
    hypotheses, references = list(hypothesis), list(reference)
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references: one reference per "
                         f"hypothesis")
    if not hypotheses:
        raise ValueError("the lists are empty: there is nothing to score")
    for i, (h, r) in enumerate(zip(hypotheses, references)):
        _check_str(h, f"hypothesis {i}")
        _check_str(r, f"reference {i}")
    return list(zip(hypotheses, references))


# --------------------------------------------------------------------------------------------- n-grams
def char_ngrams(text: str, n: int, whitespace: bool = False) -> Counter:
    """The character n-grams of ``text`` with their counts: ``char_ngrams("toit", 2)`` ->
    ``Counter({'to': 1, 'oi': 1, 'it': 1})``. Without ``whitespace`` the spaces are removed first (chrF's
    default), so ``"le toit"`` has the 2-gram ``"et"``."""
    _check_str(text, "text")
    _check_order(n)
    if not whitespace:
        text = _SPACES.sub("", text)
    return Counter(text[i:i + n] for i in range(len(text) - n + 1))


def chrf_statistics(hypothesis: str, reference: str, n: int = 6, whitespace: bool = False) -> list[NgramCounts]:
    """For each order 1..n, how many n-grams the hypothesis has, the reference has, and they share."""
    _check_str(hypothesis, "hypothesis")
    _check_str(reference, "reference")
    stats = []
    for order in range(1, _check_order(n) + 1):
        hyp, ref = char_ngrams(hypothesis, order, whitespace), char_ngrams(reference, order, whitespace)
        stats.append(NgramCounts(sum(hyp.values()), sum(ref.values()), sum((hyp & ref).values())))
    return stats


def chrf_precision_recall(statistics: Sequence[NgramCounts]) -> tuple[float, float]:
    """The average n-gram precision and recall (each in [0, 1]) over the orders both sides have n-grams of."""
    used = [s for s in statistics if s.hypothesis > 0 and s.reference > 0]
    if not used:
        return 0.0, 0.0
    precision = sum(s.matches / s.hypothesis for s in used) / len(used)
    recall = sum(s.matches / s.reference for s in used) / len(used)
    return precision, recall


def chrf_from_statistics(statistics: Sequence[NgramCounts], beta: float = 2.0) -> float:
    """chrF (0 to 100) from the n-gram counts: F-beta of the average precision and recall."""
    beta = _check_beta(beta)
    precision, recall = chrf_precision_recall(statistics)
    if precision + recall == 0:
        return 0.0
    return 100.0 * (1 + beta**2) * precision * recall / (beta**2 * precision + recall)


def chrf(hypothesis: Text, reference: Text, n: int = 6, beta: float = 2.0, whitespace: bool = False) -> float:
    """chrF between 0 and 100 (Popović, 2015): 100 for identical texts, 0 when no character is shared.

    Two strings: the score of one sentence. Two lists of strings (hypotheses and their references): the
    corpus score, from n-gram counts summed over all sentences (not the mean of the sentence scores; for
    that see ``sentence_chrf``). ``n``: the largest n-gram order; ``beta``: recall counts beta times as
    much as precision; ``whitespace=True`` keeps spaces inside the n-grams.
    """
    pairs = _as_pairs(hypothesis, reference)
    _check_order(n)
    totals = [NgramCounts(0, 0, 0)] * n
    for hyp, ref in pairs:
        totals = [a + b for a, b in zip(totals, chrf_statistics(hyp, ref, n, whitespace))]
    return chrf_from_statistics(totals, beta)


def sentence_chrf(hypotheses: Sequence[str], references: Sequence[str], n: int = 6, beta: float = 2.0,
                  whitespace: bool = False) -> list[float]:
    """The chrF of every sentence of a corpus, one number per (hypothesis, reference) pair."""
    return [chrf(h, r, n, beta, whitespace) for h, r in _as_pairs(hypotheses, references)]


# --------------------------------------------------------------------------------------------- exact match
def exact_match(hypothesis: Text, reference: Text) -> float:
    """Percentage (0 to 100) of hypotheses identical to their reference, after stripping spaces at both ends.

    Two strings give 100.0 or 0.0; two lists give the share of identical pairs in percent.
    """
    pairs = _as_pairs(hypothesis, reference)
    return 100.0 * sum(h.strip() == r.strip() for h, r in pairs) / len(pairs)


# --------------------------------------------------------------------------------------------- intervals
def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """A 95 % (``z`` = 1.96) Wilson score interval for a proportion, in percent: ``successes`` of ``n``.

    Better than "p ± 1.96·sqrt(p(1-p)/n)" for small n and for shares near 0 or 100 %: it never leaves
    [0, 100]. It treats the n sentences as independent draws; it says how much the score would move on
    another test set of the same size, not how much it would move with another training seed.
    """
    if isinstance(successes, bool) or isinstance(n, bool) or not isinstance(successes, int) or not isinstance(n, int):
        raise TypeError("successes and n must be ints")
    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n >= 1, got {successes} of {n}")
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return 100 * max(0.0, centre - half), 100 * min(1.0, centre + half)


#: two-sided 95 % quantiles of Student's t distribution, by degrees of freedom
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}


def mean_interval(values: Sequence[float]) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean of a few runs (e.g. seeds) and its 95 % Student-t interval.

    With 3 runs the interval is mean ± 4.30 · s / sqrt(3) (s: the sample standard deviation), wide on
    purpose: three runs say little about the spread. Needs 2 to 11 values.
    """
    values = [float(v) for v in values]
    if not 2 <= len(values) <= 11:
        raise ValueError(f"mean_interval needs 2 to 11 values, got {len(values)}")
    mean = sum(values) / len(values)
    s = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    half = _T95[len(values) - 1] * s / math.sqrt(len(values))
    return mean, mean - half, mean + half


# --------------------------------------------------------------------------------------------- diversity
def distinct_n(samples: Sequence[Sequence[int]], n: int = 3) -> float:
    """Distinct-n of a set of samples: different n-token sequences / all n-token sequences, pooled over the samples.

    1.0: no n-gram repeats anywhere; near 0: the samples repeat themselves and each other. 0.0 when no sample
    is n tokens long.
    """
    from nbutils.validate import require_int

    require_int("n", n)
    grams = [tuple(s[i:i + n]) for s in samples for i in range(len(s) - n + 1)]
    return len(set(grams)) / max(1, len(grams))
