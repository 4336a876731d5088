"""Random choices that keep a record of their probability.

Every random decision the story generator makes goes through a :class:`Chooser`. Two choosers exist:

- :class:`Sampler` draws each choice with a seeded ``random.Random`` and adds ``-log p`` of what it drew
  to a running total. That total is the exact negative log-likelihood of the story it wrote.
- the explorer in :mod:`nbutils.world.truth` walks *every* possible choice instead, which is how the
  package computes exact next-word probabilities without counting anything.

The generator also hands every piece of text it writes to the chooser (``say``) and marks the end of each
sentence (``close``). The sampler simply collects them; the explorer compares them with a text it is
looking for and abandons a branch as soon as the text no longer matches.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from typing import Any, Generic, Iterable, Mapping, TypeVar

T = TypeVar("T")

__all__ = ["Dist", "Chooser", "Sampler"]


class Dist(Generic[T]):
    """A finite probability distribution: ``items`` with ``probs`` that sum to 1.

    Build it from ``{item: weight}`` or ``[(item, weight), ...]``; weights are normalised and items with
    weight 0 are dropped, so every item left has a strictly positive probability.
    """

    __slots__ = ("items", "probs", "logps", "_cum")

    def __init__(self, weighted: Mapping[T, float] | Iterable[tuple[T, float]]):
        pairs = list(weighted.items()) if isinstance(weighted, Mapping) else list(weighted)
        if any(w < 0 for _, w in pairs):
            raise ValueError("weights must be >= 0")
        pairs = [(item, float(w)) for item, w in pairs if w > 0]
        if not pairs:
            raise ValueError("a distribution needs at least one item with a positive weight")
        items = [item for item, _ in pairs]
        if len(set(map(repr, items))) != len(items):
            raise ValueError(f"duplicate items in a distribution: {items}")
        total = sum(w for _, w in pairs)
        self.items: tuple[T, ...] = tuple(items)
        self.probs: tuple[float, ...] = tuple(w / total for _, w in pairs)
        self.logps: tuple[float, ...] = tuple(math.log(p) for p in self.probs)
        cum, acc = [], 0.0
        for p in self.probs:
            acc += p
            cum.append(acc)
        cum[-1] = 1.0
        self._cum = cum

    @classmethod
    def uniform(cls, items: Iterable[T]) -> "Dist[T]":
        """Every item equally likely."""
        return cls([(item, 1.0) for item in items])

    def prob(self, item: T) -> float:
        """Probability of ``item`` (0.0 for an item that is not in the distribution)."""
        for it, p in zip(self.items, self.probs):
            if it == item:
                return p
        return 0.0

    def as_dict(self) -> dict[T, float]:
        return dict(zip(self.items, self.probs))

    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        shown = ", ".join(f"{it!r}: {p:.3f}" for it, p in list(zip(self.items, self.probs))[:6])
        more = ", ..." if len(self.items) > 6 else ""
        return f"Dist({{{shown}{more}}})"


class Chooser:
    """What the story generator talks to. Subclasses decide how a choice is made."""

    def pick(self, dist: Dist[T]) -> T:  # pragma: no cover - interface
        raise NotImplementedError

    def say(self, text: str) -> None:  # pragma: no cover - interface
        """Append ``text`` to the sentence being written."""
        raise NotImplementedError

    def close(self, state: Any) -> None:  # pragma: no cover - interface
        """The sentence is finished; ``state`` is the world right after it (a ``Draft``)."""
        raise NotImplementedError


class Sampler(Chooser):
    """Draws every choice at random and keeps the exact negative log-likelihood of what it drew.

    ``nll`` (natural log) grows by ``-log p`` at each choice; ``sentences`` and ``states`` collect what
    the generator wrote.
    """

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.nll = 0.0
        self.n_choices = 0
        self.sentences: list[str] = []
        self.states: list[Any] = []
        self._pieces: list[str] = []

    def pick(self, dist: Dist[T]) -> T:
        if len(dist.items) == 1:
            return dist.items[0]
        i = bisect_right(dist._cum, self.rng.random())
        if i >= len(dist.items):
            i = len(dist.items) - 1
        self.nll -= dist.logps[i]
        self.n_choices += 1
        return dist.items[i]

    def say(self, text: str) -> None:
        self._pieces.append(text)

    def close(self, state: Any) -> None:
        self.sentences.append("".join(self._pieces))
        self._pieces = []
        self.states.append(state.freeze())
