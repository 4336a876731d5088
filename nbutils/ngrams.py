"""Counting what comes next: the simplest language model there is.

Before any neural network, a table of counts already predicts the next word: among all the times a prefix
occurred, how often was each word next? Notebook 00 uses it for a first taste of next-word prediction.
"""

from __future__ import annotations

import re
from collections import Counter

__all__ = ["next_word_counts", "counts_to_probabilities"]


def next_word_counts(text: str, prefix: str) -> Counter:
    """Count the words that follow ``prefix`` in ``text``.

    A match is ``prefix`` followed by one space; the next word is the run of letters after that space, so
    "The cat is on the roof." contributes ``"roof"`` (the full stop is not part of the word).
    Matching is case-sensitive: "The cat" at the start of a sentence is not "the cat" in its middle.
    """
    if not isinstance(text, str) or not isinstance(prefix, str):
        raise TypeError("next_word_counts(text, prefix) takes two strings")
    if not prefix:
        raise ValueError("prefix must not be empty")
    pattern = re.compile(re.escape(prefix) + r" ([A-Za-z]+)")
    return Counter(match.group(1) for match in pattern.finditer(text))


def counts_to_probabilities(counts: Counter | dict[str, int]) -> dict[str, float]:
    """Divide each count by the total: the maximum-likelihood estimate of the next-word distribution."""
    total = sum(counts.values())
    if total == 0:
        raise ValueError("no counts: the prefix never occurred, so there is nothing to estimate")
    return {word: n / total for word, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))}
