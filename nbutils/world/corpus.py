"""Stories, the corpus of many stories, and the corpus's entropy floor.

``generate_corpus(seed)`` writes independent stories until the text reaches ``target_bytes``, keeps the
last ``val_fraction`` of them as the validation split, and remembers for every story the exact negative
log-likelihood of the choices that wrote it. :meth:`Corpus.entropy_floor` turns that into nats (or bits)
per character and per word.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Sequence

from nbutils.world.choice import Sampler
from nbutils.world.grammar import story_step
from nbutils.world.state import WorldState

__all__ = [
    "Story", "Corpus", "EntropyFloor", "generate_story", "generate_corpus", "default_corpus", "words",
    "STORY_SEPARATOR", "WORLD_VERSION",
]

#: Bump when the generator changes: the same seed then gives a different corpus.
WORLD_VERSION = 1
#: Stories are separated by a blank line.
STORY_SEPARATOR = "\n\n"
#: A word is a run of letters; every other non-space character (. , ? ! : ") is a word of its own.
WORD_RE = re.compile(r"[A-Za-z]+|[^\sA-Za-z]")


def words(text: str) -> list[str]:
    """Split text into the words this package counts: ``"Where is it?"`` -> ``['Where', 'is', 'it', '?']``."""
    return WORD_RE.findall(text)


@dataclass(frozen=True)
class Story:
    """One story: its sentences, the world after each one, and its exact log-likelihood.

    ``states[i]`` is the world right after ``sentences[i]``. ``nll`` is ``-log P(story)`` in nats under
    the generator, including the decision to stop after the last sentence.
    """

    sentences: tuple[str, ...]
    states: tuple[WorldState, ...]
    nll: float

    @property
    def text(self) -> str:
        """The story as one paragraph."""
        return " ".join(self.sentences)

    def locations(self, who: str) -> list[str | None]:
        """Where ``who`` ("the cat", "Mia", "pet", ...) is after each sentence, in words (``None``: not said
        yet, or not in the story). Handy labels for a probe that reads "where is the cat" from a model."""
        out: list[str | None] = []
        for state in self.states:
            try:
                out.append(state.location(who))
            except KeyError:
                out.append(None)
        return out

    def __str__(self) -> str:
        return self.text


def _check_seed(seed: int) -> None:
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")


def generate_story(rng: random.Random | int = 0) -> Story:
    """Write one story with ``rng`` (a ``random.Random``, or an int seed)."""
    if not isinstance(rng, random.Random):
        _check_seed(rng)
        rng = random.Random(rng)
    sampler = Sampler(rng)
    state = WorldState.empty()
    while story_step(state, sampler):
        state = sampler.states[-1]
    return Story(tuple(sampler.sentences), tuple(sampler.states), sampler.nll)


@dataclass(frozen=True)
class EntropyFloor:
    """The exact negative log-likelihood of a text under the process that wrote it, per character and word.

    This is the loss (cross-entropy) that a perfect model of the generator would reach on average: no
    model can do better in expectation, so it is the *floor* to compare a trained model's validation loss
    with. Words are counted with :func:`words` (punctuation marks count as words).
    """

    split: str
    n_stories: int
    n_chars: int
    n_words: int
    total_nats: float

    @property
    def nats_per_char(self) -> float:
        return self.total_nats / self.n_chars

    @property
    def bits_per_char(self) -> float:
        return self.nats_per_char / math.log(2)

    @property
    def nats_per_word(self) -> float:
        return self.total_nats / self.n_words

    @property
    def bits_per_word(self) -> float:
        return self.nats_per_word / math.log(2)

    def per_token(self, chars_per_token: float) -> float:
        """The floor in nats per token for a tokenizer that averages ``chars_per_token`` characters."""
        if chars_per_token <= 0:
            raise ValueError(f"chars_per_token must be > 0, got {chars_per_token}")
        return self.nats_per_char * chars_per_token

    def __str__(self) -> str:
        return (f"entropy floor ({self.split}, {self.n_stories} stories): "
                f"{self.nats_per_char:.4f} nats/char = {self.bits_per_char:.4f} bits/char, "
                f"{self.nats_per_word:.3f} nats/word = {self.bits_per_word:.3f} bits/word")


@dataclass(frozen=True)
class Corpus:
    """A generated corpus: stories, the train/validation split, and ground truth.

    The last ``n_val`` stories form the validation split. ``text`` joins all stories with a blank line;
    ``train_text`` and ``val_text`` join those of each split.
    """

    seed: int
    stories: tuple[Story, ...]
    n_val: int

    @property
    def train_stories(self) -> tuple[Story, ...]:
        return self.stories[: len(self.stories) - self.n_val]

    @property
    def val_stories(self) -> tuple[Story, ...]:
        return self.stories[len(self.stories) - self.n_val:]

    def split(self, name: str) -> tuple[Story, ...]:
        """The stories of ``"train"``, ``"val"`` or ``"all"``."""
        if name == "train":
            return self.train_stories
        if name in ("val", "validation"):
            return self.val_stories
        if name == "all":
            return self.stories
        raise ValueError(f"unknown split {name!r}: use 'train', 'val' or 'all'")

    @staticmethod
    def join(stories: Sequence[Story]) -> str:
        return STORY_SEPARATOR.join(s.text for s in stories)

    @cached_property
    def text(self) -> str:
        return self.join(self.stories)

    @cached_property
    def train_text(self) -> str:
        return self.join(self.train_stories)

    @cached_property
    def val_text(self) -> str:
        return self.join(self.val_stories)

    def text_of(self, split: str) -> str:
        """The text of ``"train"``, ``"val"`` or ``"all"``."""
        if split == "train":
            return self.train_text
        if split in ("val", "validation"):
            return self.val_text
        if split == "all":
            return self.text
        raise ValueError(f"unknown split {split!r}: use 'train', 'val' or 'all'")

    def entropy_floor(self, split: str = "val") -> EntropyFloor:
        """The entropy floor of a split: the sum of ``-log p`` over every choice that wrote its stories,
        divided by its number of characters or words. See the package docstring for what it means."""
        stories = self.split(split)
        text = self.text_of(split)
        return EntropyFloor(split, len(stories), len(text), len(words(text)), sum(s.nll for s in stories))

    def word_types(self, split: str = "all") -> set[str]:
        """The distinct words (letters only, lower-cased) in a split."""
        return {w.lower() for w in re.findall(r"[A-Za-z]+", self.text_of(split))}

    def sentences(self, split: str = "all") -> list[str]:
        return [s for story in self.split(split) for s in story.sentences]

    def __len__(self) -> int:
        return len(self.stories)

    def __repr__(self) -> str:
        return (f"Corpus(seed={self.seed}, stories={len(self.stories)} "
                f"({len(self.stories) - self.n_val} train / {self.n_val} val), chars={len(self.text):,})")


def generate_corpus(seed: int = 0, n_stories: int | None = None, target_bytes: int = 2_000_000,
                    val_fraction: float = 0.05) -> Corpus:
    """Generate the toy-world corpus, deterministically from ``seed``.

    Args:
        seed: the same seed always gives the same corpus (for a given ``WORLD_VERSION``).
        n_stories: write exactly this many stories; if ``None``, write stories until the text (stories
            joined by blank lines) has at least ``target_bytes`` characters. The text is ASCII, so
            characters and bytes are the same.
        val_fraction: share of the stories (the last ones) kept for validation; at least one when there
            are two stories or more.
    """
    _check_seed(seed)
    if n_stories is not None and (not isinstance(n_stories, int) or n_stories < 1):
        raise ValueError(f"n_stories must be a positive int or None, got {n_stories!r}")
    if n_stories is None and (not isinstance(target_bytes, int) or target_bytes < 1):
        raise ValueError(f"target_bytes must be a positive int, got {target_bytes!r}")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    rng = random.Random(seed)
    stories: list[Story] = []
    size = -len(STORY_SEPARATOR)
    while (len(stories) < n_stories) if n_stories is not None else (size < target_bytes):
        story = generate_story(rng)
        stories.append(story)
        size += len(STORY_SEPARATOR) + len(story.text)
    n_val = round(val_fraction * len(stories))
    if val_fraction > 0 and len(stories) >= 2:
        n_val = max(1, n_val)
    return Corpus(seed, tuple(stories), n_val)


@lru_cache(maxsize=4)
def default_corpus(seed: int = 0) -> Corpus:
    """The course's corpus (about 2 MB), generated once per session and kept in memory."""
    return generate_corpus(seed)
