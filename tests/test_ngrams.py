"""next_word_counts against an independent count with str.split, and its exercise check."""

from collections import Counter

import pytest

from nbutils.checks import CheckFailed
from nbutils.checks.counting import check_next_word_counts
from nbutils.ngrams import counts_to_probabilities, next_word_counts
from nbutils.world import default_corpus


def split_count(text: str, prefix: str) -> Counter:
    """Reference: walk the words of each sentence and look at the word after the prefix's words."""
    want = prefix.split()
    counts = Counter()
    for line in text.replace("?", ".").replace("!", ".").replace('"', " ").split("."):
        tokens = line.split()
        for i in range(len(tokens) - len(want)):
            if tokens[i:i + len(want)] == want:
                nxt = tokens[i + len(want)].strip(",:")
                if nxt.isalpha():
                    counts[nxt] += 1
    return counts


def test_matches_reference_on_the_toy_corpus():
    text = default_corpus().val_text
    for prefix in ["The cat is on the", "Mia loves the", "is in the"]:
        assert next_word_counts(text, prefix) == split_count(text, prefix), prefix


def test_probabilities_sum_to_one_and_errors():
    probs = counts_to_probabilities(Counter(roof=9, mat=1))
    assert probs == {"roof": 0.9, "mat": 0.1}
    with pytest.raises(ValueError, match="never occurred"):
        counts_to_probabilities(Counter())
    with pytest.raises(ValueError):
        next_word_counts("text", "")
    with pytest.raises(TypeError):
        next_word_counts(b"bytes", "x")


def test_check_accepts_reference_and_explains_punctuation():
    check_next_word_counts(next_word_counts)

    def keeps_full_stop(text, prefix):
        return Counter(part.split()[0] for part in text.split(prefix + " ")[1:])

    with pytest.raises(CheckFailed, match="punctuation"):
        check_next_word_counts(keeps_full_stop)
