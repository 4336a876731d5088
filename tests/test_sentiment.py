"""Tests of the labelled reviews: labels follow the rules, balance, determinism, disjoint splits, hard set.

The labels are checked against a small rule-based parser written here from the rules of the task (not
from the generator's templates): an opinion word has a polarity, each "not"/"cannot" in its clause flips
it, and in "A, but B" the clause B decides, unless B is an elliptical "it is not" / "I do not", which
denies A.
"""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict

import pytest

from nbutils.world import HARD_SENTIMENT_KINDS, SENTIMENT_KINDS, Review, SentimentData, sentiment_dataset
from nbutils.world.lexicon import BOYS, COLORS, GIRLS, THING_ADJECTIVES, THINGS, TOYS

# ------------------------------------------------------------------ an independent rule-based parser
POSITIVE = {"love", "like", "enjoy", "adore", "good", "great", "nice", "fun", "lovely", "perfect", "best", "works"}
NEGATIVE = {"hate", "dislike", "detest", "bad", "awful", "terrible", "boring", "useless", "cheap", "worst", "broke",
            "broken", "apart"}
NEGATORS = {"not", "cannot"}
ELLIPTICAL = {"it is not", "i do not"}


def clause_polarity(clause: str) -> int | None:
    """1 or 0 for a clause with opinion words (all of one polarity), None for a neutral clause."""
    words = re.findall(r"[a-z]+", clause.lower())
    polarities = {1 for w in words if w in POSITIVE} | {0 for w in words if w in NEGATIVE}
    if not polarities:
        return None
    assert len(polarities) == 1, f"mixed opinion words in one clause: {clause!r}"
    polarity = polarities.pop()
    flips = sum(w in NEGATORS for w in words)
    return polarity if flips % 2 == 0 else 1 - polarity


def sentence_polarity(sentence: str) -> int | None:
    if ", but " not in sentence:
        return clause_polarity(sentence)
    before, after = sentence.split(", but ")
    decided = clause_polarity(after)
    if decided is not None:
        return decided
    assert after.strip(".!").lower() in ELLIPTICAL, f"no opinion after 'but' in {sentence!r}"
    first = clause_polarity(before)
    assert first is not None, sentence
    return 1 - first


def rule_label(text: str) -> int:
    """The label of a review: exactly one of its sentences may carry an opinion."""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text) if s]
    polarities = [p for p in map(sentence_polarity, sentences) if p is not None]
    assert len(polarities) == 1, f"expected exactly one opinionated sentence in {text!r}"
    return polarities[0]


def bag(text: str) -> tuple[str, ...]:
    return tuple(sorted(re.findall(r"[a-z]+", text.lower())))


@pytest.fixture(scope="module")
def data() -> SentimentData:
    return sentiment_dataset(seed=0)


# ----------------------------------------------------------------------------------------- tests
def test_parser_on_the_examples_of_the_task():
    examples = {
        "I love this product!": 1, "I hate this kite.": 0, "It is a good umbrella.": 1, "I do not love it.": 0,
        "It is not bad at all.": 1, "I do not hate this ball.": 1, "not good": 0, "I really love this red ball!": 1,
        "It is very bad.": 0, "I wanted to like it, but it broke.": 0, "It looked cheap, but I love it.": 1,
        "It is not that I do not like it.": 1, "I thought I would hate it, but I do not.": 1,
    }
    for text, label in examples.items():
        assert rule_label(text) == label, text


def test_sizes_speed_and_running_example():
    start = time.perf_counter()
    data = sentiment_dataset(seed=0)
    assert time.perf_counter() - start < 5.0
    assert (len(data.train), len(data.val), len(data.test), len(data.hard)) == (4000, 500, 1000, 500)
    assert Review("I love this product!", 1, "plain") in data.train
    assert "SentimentData(seed=0, train=4000" in repr(data)


def test_every_label_follows_the_rules(data):
    for name in ("train", "val", "test", "hard"):
        for review in data.split(name):
            assert review.label == rule_label(review.text), (name, review)


def test_labels_are_balanced(data):
    for name in ("train", "val", "test", "hard"):
        labels = [r.label for r in data.split(name)]
        assert abs(2 * sum(labels) - len(labels)) <= 1, name
    # every kind, too, is close to balanced
    by_kind: dict[str, list[int]] = defaultdict(list)
    for r in data.train + data.hard:
        by_kind[r.kind].append(r.label)
    for kind, labels in by_kind.items():
        assert 0.4 < sum(labels) / len(labels) < 0.6, kind


def test_kinds(data):
    for name in ("train", "val", "test"):
        counts = Counter(r.kind for r in data.split(name))
        assert set(counts) == set(SENTIMENT_KINDS), name
        for kind, share in SENTIMENT_KINDS.items():
            assert abs(counts[kind] / len(data.split(name)) - share) < 0.06, (name, kind)
    assert Counter(r.kind for r in data.hard) == {k: 100 for k in HARD_SENTIMENT_KINDS}
    assert not set(HARD_SENTIMENT_KINDS) & set(SENTIMENT_KINDS)


def test_no_text_twice(data):
    texts = [r.text for name in ("train", "val", "test", "hard") for r in data.split(name)]
    assert len(texts) == len(set(texts))


def test_same_seed_same_data_other_seed_other_data():
    a, b, c = (sentiment_dataset(seed=s, n_train=300, n_val=50, n_test=100, n_hard=50) for s in (3, 3, 4))
    assert a == b
    assert a.train != c.train
    texts, labels = a.texts_labels("val")
    assert texts == [r.text for r in a.val] and labels == [r.label for r in a.val]


def test_a_bag_of_words_cannot_be_perfect(data):
    """Reviews with exactly the same words but opposite labels ("I love it, but it broke." and
    "It broke, but I love it."): no classifier of word counts gets both right."""
    labels_of: dict[tuple[str, ...], set[int]] = defaultdict(set)
    for r in data.train + data.val + data.test:
        labels_of[bag(r.text)].add(r.label)
    conflicts = [b for b, labels in labels_of.items() if len(labels) == 2]
    assert len(conflicts) >= 20


def test_products_and_reviewers_come_from_the_toy_world(data):
    nouns = {k.noun.en for k in TOYS.items + THINGS.items} | {"product"}
    adjectives = {a.en for a in COLORS.items} | {a.en for a in THING_ADJECTIVES.items if a is not None}
    names = {p.name for p in GIRLS.items + BOYS.items}
    phrases = nouns | {f"{a} {n}" for a in adjectives for n in nouns - {"product"}}
    product = re.compile(r"\b[Tt]his (" + "|".join(sorted(map(re.escape, phrases), key=len, reverse=True)) + r")\b")
    text = " ".join(r.text for r in data.train)
    assert len(product.findall(text)) == len(re.findall(r"\b[Tt]his\b", text)) > 1000
    used_names = set(re.findall(r"\b[A-Z][a-z]+\b", text)) - {"I", "It", "This", "Not", "Now"}
    assert used_names and used_names <= names


def test_the_hard_constructions_never_occur_in_training(data):
    intensifiers = {"very", "so", "really"}
    for r in data.train + data.val + data.test:
        words = re.findall(r"[a-z]+", r.text.lower())
        n_not = sum(w in NEGATORS for w in words)
        assert n_not <= 1, r                                   # no double negation
        if n_not:
            assert r.kind == "negated" and not intensifiers & set(words), r   # no "really not", "not very"
        if ", but " in r.text:
            after = r.text.split(", but ")[1]
            assert clause_polarity(after) is not None and "not" not in after, r   # no elliptical/negated "but"
        if {"adore", "detest"} & set(words):
            assert r.kind == "plain", r
    rare = [r for r in data.train if {"adore", "detest"} & set(re.findall(r"[a-z]+", r.text.lower()))]
    assert 20 <= len(rare) <= 200  # known words, but rare ones
    for r in data.hard:
        words = re.findall(r"[a-z]+", r.text.lower())
        if r.kind == "double_negation":
            assert sum(w in NEGATORS for w in words) == 2
        elif r.kind == "intensified_negation":
            assert "not" in words and {"very", "so", "really"} & set(words)
        else:
            assert ", but " in r.text


def test_bad_arguments():
    with pytest.raises(ValueError):
        sentiment_dataset(seed=-1)
    with pytest.raises(ValueError):
        sentiment_dataset(n_train=0)
    with pytest.raises(TypeError):
        sentiment_dataset(n_val=2.5)
    with pytest.raises(ValueError):
        Review("fine", 2, "plain")
    with pytest.raises(ValueError):
        sentiment_dataset(seed=0).split("dev")
