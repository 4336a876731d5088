"""Labelled product reviews from the toy world: a sentiment task for fine-tuning a language model.

In the stories the children write short reviews of their toys and household things ("I love this
product!", "It is the worst kite ever!"). This module writes thousands of such reviews, each with a
label: 1 (positive) if the reviewer likes the product, 0 (negative) if not. The products are the toy
world's toys and things ("this red ball", "this old cup", "this product"), and the children's names
appear too ("Tom gave it to me.", "Mia said it was great, but I hate it."). Every review is built by one
of a few *constructions*, recorded in ``Review.kind``:

- ``plain``: "I love this product!", "I hate this kite.", "It is a good umbrella."
- ``negated``: "I do not love it.", "It is not bad at all.", "I do not hate this ball.", "Not good."
  One "not" flips the label of the word it negates.
- ``intensified``: "I really love this red ball!", "It is very bad." "really", "very" and "so" make an
  opinion stronger but never change the label.
- ``contrastive``: "I wanted to like it, but it broke.", "It looked cheap, but I love it." The clause
  after "but" decides, and the clause before it always says the opposite.

The label always follows from the construction, but not from the words alone: "I love it, but it
broke." is negative while "It broke, but I love it." is positive, with exactly the same words, so a
bag-of-words classifier cannot be perfect.

The ``hard`` set uses constructions that never occur in training, to test whether a fine-tuned model
learned the rules rather than memorised phrases:

- ``double_negation``: "It is not that I do not like it." (positive: two "not"s cancel)
- ``elliptical_contrast``: "I thought I would hate it, but I do not." (positive), "It looks good, but
  it is not." (negative): the clause after "but" has no opinion word of its own.
- ``negated_contrast``: "It looked awful, but it is not bad at all." (positive): the deciding clause is
  negated, which training contrasts never are.
- ``rare_word_contrast``: "I thought I would detest it, but I adore it." (positive): "adore" and
  "detest" occur in training, but only a few times and only in plain reviews.
- ``intensified_negation``: "I really do not like this red ball.", "It is not very good." (negative):
  training never puts "really"/"very"/"so" and "not" in one review.

Usage::

    data = sentiment_dataset(seed=0)                 # 4000 / 500 / 1000 reviews, and 500 hard ones
    texts, labels = data.texts_labels("train")
    data.train[0]                                    # Review(text='...', label=1, kind='plain')

Every split has as many positive as negative reviews (one more positive when its size is odd), no text
occurs twice anywhere (so train, validation, test and hard share no review), and the same seed always
gives the same data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Sequence, TypeVar

from nbutils.world.choice import Dist
from nbutils.world.lexicon import BOYS, COLORS, GIRLS, THING_ADJECTIVES, THINGS, TOYS

__all__ = [
    "Review", "SentimentData", "sentiment_dataset", "SENTIMENT_KINDS", "HARD_SENTIMENT_KINDS", "SENTIMENT_LABELS",
    "RUNNING_REVIEW",
]

T = TypeVar("T")

#: Label names: ``SENTIMENT_LABELS[review.label]``.
SENTIMENT_LABELS = ("negative", "positive")
#: The constructions of the train, validation and test splits, with how often each is used.
SENTIMENT_KINDS: dict[str, float] = {"plain": 0.30, "negated": 0.25, "intensified": 0.20, "contrastive": 0.25}
#: The constructions of the hard set (never seen in training), equally often each.
HARD_SENTIMENT_KINDS = ("double_negation", "elliptical_contrast", "negated_contrast", "rare_word_contrast",
                        "intensified_negation")
#: The course's running example; it is always in the training split.
RUNNING_REVIEW = "I love this product!"

# --------------------------------------------------------------------------------- opinion words
#: Opinion words by polarity (1 = positive, 0 = negative).
VERBS = {1: ("love", "like", "enjoy"), 0: ("hate", "dislike")}
#: Rare verbs: a few plain training reviews use them, the hard set puts them in contrasts.
RARE_VERBS = {1: "adore", 0: "detest"}
ADJECTIVES = {1: ("good", "great", "nice", "fun", "lovely", "perfect"), 0: ("bad", "awful", "terrible", "boring",
                                                                           "useless")}
#: The adjectives that "very" goes with ("very good", not "very perfect").
GRADABLE = {1: ("good", "nice", "fun", "lovely"), 0: ("bad", "boring")}
#: How a product can look (only said before "but").
LOOKS = {1: ADJECTIVES[1], 0: ADJECTIVES[0] + ("cheap",)}
#: Things that happen to a product.
EVENTS = {1: ("it works well", "it still works", "it works great"),
          0: ("it broke", "it broke on the first day", "it fell apart", "it is already broken")}
#: Sentences that say nothing about the opinion; a review may start with one.
NEUTRAL_OPENINGS = ("{name} gave it to me.", "I got it from {name}.", "I bought it at the shop.",
                    "I use it in the garden.", "I play with it every day.", "I got it for my birthday.")
#: Share of plain reviews (with a verb) that use a rare verb.
RARE_VERB_SHARE = 0.06


@dataclass(frozen=True)
class Review:
    """One labelled review: its text, its label (1 positive, 0 negative) and the construction that wrote it."""

    text: str
    label: int
    kind: str

    def __post_init__(self) -> None:
        if self.label not in (0, 1):
            raise ValueError(f"label must be 0 (negative) or 1 (positive), got {self.label!r}")
        if not self.text:
            raise ValueError("a review needs some text")


@dataclass(frozen=True)
class SentimentData:
    """The reviews of one seed: ``train``, ``val``, ``test`` (same constructions) and ``hard`` (new ones)."""

    seed: int
    train: list[Review]
    val: list[Review]
    test: list[Review]
    hard: list[Review]

    def split(self, name: str) -> list[Review]:
        """The reviews of ``"train"``, ``"val"``, ``"test"`` or ``"hard"``."""
        splits = {"train": self.train, "val": self.val, "validation": self.val, "test": self.test, "hard": self.hard}
        if name not in splits:
            raise ValueError(f"unknown split {name!r}: use 'train', 'val', 'test' or 'hard'")
        return splits[name]

    def texts_labels(self, name: str) -> tuple[list[str], list[int]]:
        """The texts and the labels of a split, as two lists of the same length."""
        reviews = self.split(name)
        return [r.text for r in reviews], [r.label for r in reviews]

    def __repr__(self) -> str:
        return (f"SentimentData(seed={self.seed}, train={len(self.train)}, val={len(self.val)}, "
                f"test={len(self.test)}, hard={len(self.hard)})")


# ------------------------------------------------------------------------------ small word helpers
def _pick(rng: random.Random, dist: Dist[T]) -> T:
    return rng.choices(dist.items, weights=dist.probs)[0]


def _article(word: str) -> str:
    """'a' or 'an' for the word that follows ("an awful", but "a useless": it is the sound that counts)."""
    return "an" if word[0] in "aeiou" and not word.startswith("use") else "a"


def _capital(text: str) -> str:
    return text[0].upper() + text[1:]


def _name(rng: random.Random) -> str:
    return _pick(rng, GIRLS if rng.random() < 0.5 else BOYS).name


def _noun(rng: random.Random) -> str:
    """A bare product noun: "product", "kite", "cup"."""
    r = rng.random()
    if r < 0.2:
        return "product"
    return _pick(rng, TOYS if r < 0.65 else THINGS).noun.en


def _product(rng: random.Random) -> str:
    """A product as the stories name it, without "the": "product", "red ball", "old cup", "umbrella"."""
    r = rng.random()
    if r < 0.2:
        return "product"
    if r < 0.65:
        toy = _pick(rng, TOYS).noun.en
        return f"{_pick(rng, COLORS).en} {toy}" if rng.random() < 0.6 else toy
    adjective = _pick(rng, THING_ADJECTIVES)
    thing = _pick(rng, THINGS).noun.en
    return f"{adjective.en} {thing}" if adjective is not None else thing


def _verb(rng: random.Random, polarity: int, strong: bool = False) -> str:
    """An opinion verb; ``strong`` leaves out "dislike" (for "I do not hate it", not "I do not dislike it")."""
    return rng.choice(("love", "like") if strong and polarity else ("hate",) if strong else VERBS[polarity])


def _adjective(rng: random.Random, polarity: int, gradable: bool = False) -> str:
    return rng.choice((GRADABLE if gradable else ADJECTIVES)[polarity])


def _opening(rng: random.Random, share: float = 0.25) -> str:
    """A neutral first sentence (with probability ``share``), followed by a space; else nothing."""
    if rng.random() >= share:
        return ""
    return rng.choice(NEUTRAL_OPENINGS).format(name=_name(rng)) + " "


# --------------------------------------------------------------------------- training constructions
def _plain(rng: random.Random, label: int) -> str:
    p = label
    if rng.random() < RARE_VERB_SHARE:
        verb = RARE_VERBS[p]
        body = rng.choice([f"I {verb} this {_product(rng)}{rng.choice('.!')}", f"I {verb} it."])
        return _opening(rng) + body
    adj, noun = _adjective(rng, p), _noun(rng)
    body = rng.choice([
        f"I {_verb(rng, p)} this {_product(rng)}{rng.choice('.!')}",
        f"It is {_article(adj)} {adj} {noun}.",
        f"This {_product(rng)} is {adj}.",
        f"It is the {'best' if p else 'worst'} {noun} ever!",
        f"I {_verb(rng, p)} it{rng.choice('.!')}",
    ])
    return _opening(rng) + body


def _negated(rng: random.Random, label: int) -> str:
    p = 1 - label  # the polarity of the word that "not" negates
    adj, noun = _adjective(rng, p), _noun(rng)
    body = rng.choice([
        f"I do not {_verb(rng, p)} this {_product(rng)}.",
        f"I do not {_verb(rng, p)} it.",
        f"I do not {_verb(rng, p)} it at all.",
        f"It is not {adj}.",
        f"It is not {adj} at all.",
        f"This {_product(rng)} is not {adj}.",
        f"Not {adj}.",
        f"Not {adj} at all.",
        f"It is not {_article(adj)} {adj} {noun}.",
        f"I do not think it is {adj}.",
    ])
    return _opening(rng) + body


def _intensified(rng: random.Random, label: int) -> str:
    p = label
    very = rng.choice(("very", "so", "really"))
    adj, noun = _adjective(rng, p, gradable=very == "very"), _noun(rng)
    body = rng.choice([
        f"I really {_verb(rng, p)} this {_product(rng)}!",
        f"It is {very} {adj}.",
        f"This {_product(rng)} is {very} {adj}!",
        f"I {'love' if p else 'hate'} it so much!",
        f"It is a {'very' if very == 'very' else 'really'} {adj} {noun}.",
    ])
    return _opening(rng) + body


def _first_clause(rng: random.Random, polarity: int) -> str:
    """A clause that only sets up an expectation; it comes before "but" and never decides."""
    forms = [
        f"I thought I would {_verb(rng, polarity, strong=True)} it",
        f"I expected to {_verb(rng, polarity)} this {_product(rng)}",
        f"It looked {rng.choice(LOOKS[polarity])}",
        f"{_name(rng)} said it was {_adjective(rng, polarity)}",
    ]
    if polarity == 1:  # one wants to like a thing, not to hate it
        forms.append(f"I wanted to {_verb(rng, 1, strong=True)} it")
    return rng.choice(forms)


def _opinion_clause(rng: random.Random, polarity: int, first: bool) -> str:
    """A short opinion that can stand on either side of "but". Few forms, so that both orders occur.
    Only the ``first`` clause may name the product ("this kite"); the second says "it"."""
    forms = [
        f"I {_verb(rng, polarity)} it",
        f"I really {_verb(rng, polarity)} it",
        f"it is {_adjective(rng, polarity)}",
        f"it is very {_adjective(rng, polarity, gradable=True)}",
        rng.choice(EVENTS[polarity]),
    ]
    if first:
        forms.append(f"I {_verb(rng, polarity)} this {_product(rng)}")
    return rng.choice(forms)


def _contrastive(rng: random.Random, label: int) -> str:
    before = _first_clause(rng, 1 - label) if rng.random() < 0.6 else _opinion_clause(rng, 1 - label, first=True)
    after = _opinion_clause(rng, label, first=False) if rng.random() < 0.8 else f"now I {_verb(rng, label)} it"
    return f"{_capital(before)}, but {after}."


# ------------------------------------------------------------------------------ hard constructions
def _double_negation(rng: random.Random, label: int) -> str:
    p = label  # two "not"s cancel
    return rng.choice([
        f"It is not that I do not {_verb(rng, p, strong=True)} it.",
        f"I would not say it is not {_adjective(rng, p)}.",
        f"I cannot say I do not {_verb(rng, p, strong=True)} this {_product(rng)}.",
        f"It is not true that this {_product(rng)} is not {_adjective(rng, p)}.",
    ])


def _elliptical_contrast(rng: random.Random, label: int) -> str:
    p = 1 - label  # the first clause's opinion, denied by the second
    return rng.choice([
        f"It looks {rng.choice(LOOKS[p])}, but it is not.",
        f"I thought I would {_verb(rng, p, strong=True)} it, but I do not.",
        f"I expected to {_verb(rng, p, strong=True)} this {_product(rng)}, but I do not.",
        f"{_name(rng)} said it was {_adjective(rng, p)}, but it is not.",
    ])


def _negated_contrast(rng: random.Random, label: int) -> str:
    p = 1 - label  # the polarity of the first clause and of the negated word after "but"
    after = rng.choice([
        f"it is not {_adjective(rng, p)} at all",
        f"I do not {_verb(rng, p, strong=True)} it",
        f"it is not {_adjective(rng, p)}",
        f"I do not {_verb(rng, p, strong=True)} it at all",
    ])
    return f"{_capital(_first_clause(rng, p))}, but {after}."


def _rare_word_contrast(rng: random.Random, label: int) -> str:
    before = rng.choice([
        f"I thought I would {RARE_VERBS[1 - label]} it",
        f"I expected to {RARE_VERBS[1 - label]} this {_product(rng)}",
        _first_clause(rng, 1 - label),
    ])
    after = rng.choice([f"I {RARE_VERBS[label]} it", f"I really {RARE_VERBS[label]} it",
                        f"now I {RARE_VERBS[label]} it"])
    return f"{_capital(before)}, but {after}."


def _intensified_negation(rng: random.Random, label: int) -> str:
    p = 1 - label
    return rng.choice([
        f"I really do not {_verb(rng, p, strong=True)} this {_product(rng)}.",
        f"It is really not {_adjective(rng, p)} at all.",
        f"This {_product(rng)} is not very {_adjective(rng, p, gradable=True)}.",
        f"It is not so {_adjective(rng, p)}.",
        f"I do not {_verb(rng, p, strong=True)} it very much.",
    ])


_WRITERS: dict[str, Callable[[random.Random, int], str]] = {
    "plain": _plain, "negated": _negated, "intensified": _intensified, "contrastive": _contrastive,
    "double_negation": _double_negation, "elliptical_contrast": _elliptical_contrast,
    "negated_contrast": _negated_contrast, "rare_word_contrast": _rare_word_contrast,
    "intensified_negation": _intensified_negation,
}


# ----------------------------------------------------------------------------------- the dataset
def _write(rng: random.Random, kinds: Sequence[str], labels: Sequence[int], seen: set[str]) -> list[Review]:
    """One review per (kind, label), each a text not in ``seen`` (which grows)."""
    out: list[Review] = []
    for kind, label in zip(kinds, labels):
        for _ in range(500):
            text = _WRITERS[kind](rng, label)
            if text not in seen:
                break
        else:
            raise RuntimeError(f"could not write a new {kind!r} review: ask for fewer reviews")
        seen.add(text)
        out.append(Review(text, label, kind))
    return out


def _balanced_labels(rng: random.Random, n: int, n_positive: int) -> list[int]:
    labels = [1] * n_positive + [0] * (n - n_positive)
    rng.shuffle(labels)
    return labels


def _check_count(name: str, value: int, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


def sentiment_dataset(seed: int = 0, n_train: int = 4000, n_val: int = 500, n_test: int = 1000,
                      n_hard: int = 500) -> SentimentData:
    """Write the labelled reviews, deterministically from ``seed``.

    Args:
        seed: the same seed always gives the same reviews.
        n_train, n_val, n_test: sizes of the three splits that use the training constructions
            (``SENTIMENT_KINDS``). The training split always contains ``RUNNING_REVIEW``.
        n_hard: size of the hard set (``HARD_SENTIMENT_KINDS``, equally many of each, half of each
            kind positive).

    Returns:
        A :class:`SentimentData`. Labels are balanced in every split and no text occurs twice.
    """
    _check_count("seed", seed, 0)
    _check_count("n_train", n_train, 1)
    for name, value in (("n_val", n_val), ("n_test", n_test), ("n_hard", n_hard)):
        _check_count(name, value, 0)
    rng = random.Random(seed)
    kinds, weights = list(SENTIMENT_KINDS), list(SENTIMENT_KINDS.values())

    def regular(n: int, n_positive: int) -> list[Review]:
        labels = _balanced_labels(rng, n, n_positive)
        return _write(rng, rng.choices(kinds, weights=weights, k=n), labels, seen)

    seen = {RUNNING_REVIEW}
    train = [Review(RUNNING_REVIEW, 1, "plain")] + regular(n_train - 1, (n_train + 1) // 2 - 1)
    rng.shuffle(train)
    val = regular(n_val, (n_val + 1) // 2)
    test = regular(n_test, (n_test + 1) // 2)
    # the hard set: kinds in turn, and within each kind labels in turn, so both are balanced
    n_kinds = len(HARD_SENTIMENT_KINDS)
    hard_kinds = [HARD_SENTIMENT_KINDS[i % n_kinds] for i in range(n_hard)]
    hard_labels = [1 - (i // n_kinds) % 2 for i in range(n_hard)]
    hard = _write(rng, hard_kinds, hard_labels, seen)
    rng.shuffle(hard)
    return SentimentData(seed, train, val, test, hard)
