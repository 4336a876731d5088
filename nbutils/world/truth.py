"""Ground truth: the exact probability of the next word, and of a whole story, under the generator.

Two questions have exact answers here, computed from the grammar's weights (never by counting text):

1. **Sentence-initial prefixes, averaged over the corpus** (``true_next_word_distribution(prefix)``):
   "if a sentence of the corpus starts with ``prefix``, how likely is each next word?" This is what a
   model that only sees the current sentence could learn at best. It is defined for these families of
   prefixes (``SUPPORTED_FORMS``), each begun at the start of a sentence:

   - questions: ``"Where"``, ``"Where is"``, ``"Where is the"``, ``"Where are the"``, ``"Where is the red"``, ...
   - locations: a story entity, ``is``/``are``, a preposition and more: ``"The cat is on the"``,
     ``"Mia is at the"``, ``"The red ball is in"``, ``"The birds are in the"``
   - opinions: a child's name (or He/She) and ``loves``/``likes``/``hates``/``does not like``:
     ``"Mia loves the"``, ``"Tom does not like"``
   - the opening sentence of a story: ``"It is a"``, ``"It is a sunny"``, ``"The morning is"``

   Why these are exact: the grammar picks what to talk about with fixed weights, and draws every
   location from the entity's habitat, every opinion from a fixed prior, every entity from the
   lexicon's weights, independently of everything the sentence choice depends on (see
   :mod:`nbutils.world.grammar`). So, for example, among the corpus sentences that start with
   "The cat is on the", the place follows the cat's habitat restricted to places that use "on".

2. **Conditioned on the story so far** (``true_next_word_distribution(prefix, state=story.states[i])``):
   the exact distribution of the next word of the story after ``state`` and ``prefix`` (any text that
   can follow). It is computed by walking every choice the generator could make and dropping each
   branch as soon as its text stops matching the prefix. :func:`score_story` uses the same walk to
   compute the exact probability of a whole story and how many different choice sequences write it
   (always 1 for this grammar: the text determines the choices).
"""

from __future__ import annotations

import math
from collections import defaultdict
from functools import lru_cache
from typing import Iterator, NamedTuple

from nbutils.world.choice import Chooser, Dist
from nbutils.world.corpus import STORY_SEPARATOR, WORD_RE, words
from nbutils.world.grammar import (
    EXTERNAL_TARGETS, OPENING_FORMS, OPINION_PRIORS, OPINION_TARGETS, QUESTION_SLOTS, story_step,
)
from nbutils.world.lexicon import (
    BOYS, COLORS, GIRLS, GROUPS, OPENING_TIMES, OPINION_VERBS, PETS, THING_ADJECTIVES, THINGS, TOYS,
    WEATHER_DIST,
)
from nbutils.world.state import Entity, WorldState, animal_entity, object_entity, person_entity

__all__ = [
    "true_next_word_distribution", "true_next_word_entropy", "next_word_distribution", "score_story",
    "Entropy", "StoryScore", "END_OF_STORY", "SUPPORTED_FORMS",
]

#: The "word" that follows the last sentence of a story (the blank line before the next one).
END_OF_STORY = "<end of story>"

SUPPORTED_FORMS = (
    "sentence-initial prefixes of these forms: questions ('Where', 'Where is the', 'Where are the', ...); "
    "locations: an entity, is/are and a preposition ('The cat is on the', 'Mia is in', 'The red ball is under "
    "the'); opinions: a name or He/She and loves/likes/hates/does not like ('Mia loves the'); the opening "
    "sentence ('It is a', 'The morning is'). Any other prefix needs state=story.states[i] (story-conditioned)."
)


class Entropy(NamedTuple):
    """An entropy in both units: ``nats`` (natural log) and ``bits`` (log base 2)."""

    nats: float
    bits: float


# =============================================================== 1. sentence-initial prefixes
def _filler_dist(slot: str) -> Dist[Entity]:
    """Every entity that can fill ``slot``, with its probability."""
    if slot == "girl":
        return Dist([(person_entity(slot, p), w) for p, w in zip(GIRLS.items, GIRLS.probs)])
    if slot == "boy":
        return Dist([(person_entity(slot, p), w) for p, w in zip(BOYS.items, BOYS.probs)])
    if slot == "pet":
        return Dist([(animal_entity(slot, k, False), w) for k, w in zip(PETS.items, PETS.probs)])
    if slot == "group":
        return Dist([(animal_entity(slot, k, True), w) for k, w in zip(GROUPS.items, GROUPS.probs)])
    if slot == "toy":
        return Dist([(object_entity(slot, k, c), wc * wk) for c, wc in zip(COLORS.items, COLORS.probs)
                     for k, wk in zip(TOYS.items, TOYS.probs)])
    if slot == "thing":
        return Dist([(object_entity(slot, k, a), wa * wk) for a, wa in zip(THING_ADJECTIVES.items,
                                                                          THING_ADJECTIVES.probs)
                     for k, wk in zip(THINGS.items, THINGS.probs)])
    raise ValueError(f"unknown slot {slot!r}")


_filler_dist = lru_cache(maxsize=None)(_filler_dist)
_ALL_SLOTS = ("girl", "boy", "pet", "group", "toy", "thing")


@lru_cache(maxsize=None)
def _entities_by_title() -> dict[tuple[str, ...], Entity]:
    out = {}
    for slot in _ALL_SLOTS:
        for e in _filler_dist(slot).items:
            out[tuple(words(e.title))] = e
    return out


@lru_cache(maxsize=None)
def _question_family() -> tuple[tuple[str, float], ...]:
    return tuple((f"Where {e.be()} {e.name}?", q * pe) for slot, q in zip(QUESTION_SLOTS.items, QUESTION_SLOTS.probs)
                 for e, pe in zip(_filler_dist(slot).items, _filler_dist(slot).probs))


@lru_cache(maxsize=None)
def _location_family(e: Entity) -> tuple[tuple[str, float], ...]:
    return tuple((f"{e.title} {e.be()} {place.phrase}.", p) for place, p in zip(e.habitat.items, e.habitat.probs))


def _targets() -> Iterator[tuple[str, str, float]]:
    """(category, noun phrase, probability) of everything an opinion can be about."""
    for category, pc in zip(OPINION_TARGETS.items, OPINION_TARGETS.probs):
        if category in EXTERNAL_TARGETS:
            dist = EXTERNAL_TARGETS[category]
            for (noun, plural), p in zip(dist.items, dist.probs):
                yield category, f"the {noun.en_plural if plural else noun.en}", pc * p
        else:
            for e, p in zip(_filler_dist(category).items, _filler_dist(category).probs):
                yield category, e.name, pc * p


@lru_cache(maxsize=None)
def _opinion_family(subject: str, opinion: str) -> tuple[tuple[str, float], ...]:
    return tuple((f"{subject} {OPINION_VERBS[opinion]} {name}.", p * OPINION_PRIORS[category].prob(opinion))
                 for category, name, p in _targets())


@lru_cache(maxsize=None)
def _opening_family() -> tuple[tuple[str, float], ...]:
    out = []
    for w, pw in zip(WEATHER_DIST.items, WEATHER_DIST.probs):
        for t, pt in zip(OPENING_TIMES.items, OPENING_TIMES.probs):
            out.append((f"It is a {w} {t}.", OPENING_FORMS.prob("it") * pw * pt))
            out.append((f"The {t} is {w}.", OPENING_FORMS.prob("the") * pw * pt))
    return tuple(out)


_NAMES = {e.name for slot in ("girl", "boy") for e in _filler_dist(slot).items}
_VERB_WORDS = {tuple(v.split()): op for op, v in OPINION_VERBS.items()}
_PREPOSITIONS = {"on", "in", "under", "at"}


def _family(tokens: list[str]) -> tuple[tuple[str, float], ...]:
    """The list of sentences (with probabilities) that all corpus sentences starting with ``tokens`` come from."""
    if tokens[:1] == ["Where"]:
        return _question_family()
    if tokens[:3] == ["It", "is", "a"] or (len(tokens) >= 2 and tokens[0] == "The" and tokens[1] in OPENING_TIMES.items):
        return _opening_family()
    if tokens and (tokens[0] in _NAMES or tokens[0] in ("He", "She")):
        for verb, op in _VERB_WORDS.items():
            if tuple(tokens[1:1 + len(verb)]) == verb:
                return _opinion_family(tokens[0], op)
    for n in range(1, 5):
        e = _entities_by_title().get(tuple(tokens[:n]))
        if e is not None and len(tokens) >= n + 2 and tokens[n + 1] in _PREPOSITIONS:
            if tokens[n] != e.be():
                raise ValueError(f"the generator never writes {' '.join(tokens[:n + 1])!r}: "
                                 f"{e.name!r} takes {e.be()!r}")
            return _location_family(e)
    raise ValueError(f"unsupported prefix {' '.join(tokens)!r}. Supported: {SUPPORTED_FORMS}")


def _sentence_initial(prefix: str) -> dict[str, float]:
    tokens = words(prefix)
    if not tokens:
        raise ValueError(f"empty prefix. Supported: {SUPPORTED_FORMS}")
    out: dict[str, float] = defaultdict(float)
    n = len(tokens)
    for sentence, p in _family(tokens):
        w = words(sentence)
        if w[:n] == tokens and len(w) > n:
            out[w[n]] += p
    total = sum(out.values())
    if total == 0:
        raise ValueError(f"the generator never starts a sentence with {prefix!r} followed by another word "
                         f"in the same sentence")
    return {w: p / total for w, p in sorted(out.items(), key=lambda kv: -kv[1])}


# ================================================================= 2. conditioned on a story
class _Prune(Exception):
    """This branch's text no longer matches the text we are looking for."""


class _Found(Exception):
    """This branch's text has revealed the next word."""


class _Explorer(Chooser):
    """Replays one branch of the choice tree: the choices in ``forced``, then always the first option.

    Text is compared with ``target`` after every piece. With ``stop_at_next_word`` the branch ends
    (``_Found``) as soon as the word after ``target`` is known: its probability mass is then complete,
    because whatever the generator chooses next, the probabilities of those choices sum to 1.
    """

    def __init__(self, forced: tuple[int, ...], target: str, stop_at_next_word: bool):
        self.forced, self.target, self.stop = forced, target, stop_at_next_word
        self.path: list[int] = []
        self.sizes: list[int] = []
        self.prob = 1.0
        self.text = ""
        self.gap = False
        self.draft = None
        self.word: str | None = None

    def pick(self, dist):
        k = len(self.path)
        i = self.forced[k] if k < len(self.forced) else 0
        self.path.append(i)
        self.sizes.append(len(dist.items))
        self.prob *= dist.probs[i]
        return dist.items[i]

    def say(self, text: str) -> None:
        if self.gap:
            text, self.gap = " " + text, False
        self.text += text
        self._check(closed=False)

    def close(self, state) -> None:
        self.gap, self.draft = True, state
        self._check(closed=True)

    def _check(self, closed: bool) -> None:
        t, p = self.text, self.target
        if len(t) <= len(p):
            if not p.startswith(t):
                raise _Prune
            return
        if not t.startswith(p) or not self.stop:
            raise _Prune
        rest = t[len(p):]
        if p and p[-1].isalpha() and rest[0].isalpha():
            raise _Prune  # the target ends inside a longer word ("The cat" vs "The cats")
        rest = rest.lstrip(" ")
        m = WORD_RE.match(rest)
        if m and (m.end() < len(rest) or closed):
            self.word = m.group()
            raise _Found


def _step_outcomes(state: WorldState, target: str, stop: bool) -> Iterator[tuple[str, float, object]]:
    """Every way the next step can go that agrees with ``target``: ('word', p, w), ('end', p, None) or
    ('step', p, (text, new_state)), by depth-first search over the generator's choices."""
    stack: list[tuple[int, ...]] = [()]
    while stack:
        forced = stack.pop()
        ex = _Explorer(forced, target, stop)
        result = None
        try:
            if story_step(state, ex):
                result = ("step", ex.prob, (ex.text, ex.draft.freeze()))
            elif target == "":
                result = ("end", ex.prob, None)
        except _Prune:
            pass
        except _Found:
            result = ("word", ex.prob, ex.word)
        if result is not None:
            yield result
        for k in range(len(forced), len(ex.path)):
            head = tuple(ex.path[:k])
            stack.extend(head + (j,) for j in range(1, ex.sizes[k]))


def _collect(state: WorldState, prefix: str, mass: float, out: dict[str, float]) -> None:
    for kind, p, payload in _step_outcomes(state, prefix, stop=True):
        if kind == "word":
            out[payload] += mass * p
        elif kind == "end":
            out[END_OF_STORY] += mass * p
        else:
            text, after = payload
            if text == prefix:
                _collect(after, "", mass * p, out)
            elif prefix.startswith(text + " "):
                _collect(after, prefix[len(text) + 1:], mass * p, out)


def _clean(prefix: str) -> str:
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a string, got {type(prefix).__name__}")
    if STORY_SEPARATOR in prefix.strip():
        raise ValueError("the prefix must stay inside one story (no blank line)")
    return " ".join(prefix.split())


def next_word_distribution(state: WorldState, prefix: str = "") -> dict[str, float]:
    """Exact distribution of the word after ``prefix``, for a story told so far up to ``state``.

    ``prefix`` is text that continues the story (possibly several sentences, possibly empty).
    ``END_OF_STORY`` stands for "the story ends here". Raises ValueError if the story cannot go on
    with ``prefix``.
    """
    if not isinstance(state, WorldState):
        raise TypeError(f"state must be a WorldState (e.g. story.states[i]), got {type(state).__name__}")
    if state.mid_step:
        raise ValueError("this state was taken right after a question, in the middle of a step (the question and "
                         "its answer are one step). Condition on the state before the question and put the "
                         "question into the prefix: true_next_word_distribution('Where is the cat? The cat is', "
                         "state=story.states[i - 1])")
    prefix = _clean(prefix)
    out: dict[str, float] = defaultdict(float)
    _collect(state, prefix, 1.0, out)
    total = sum(out.values())
    if total == 0:
        raise ValueError(f"the story cannot continue with {prefix!r} from this state")
    return {w: p / total for w, p in sorted(out.items(), key=lambda kv: -kv[1])}


class StoryScore(NamedTuple):
    """``nll``: -log P(story) in nats (``inf`` if the generator cannot write it); ``n_parses``: how many
    different sequences of choices write exactly this text."""

    nll: float
    n_parses: int


def _end_probability(state: WorldState) -> float:
    return sum(p for kind, p, _ in _step_outcomes(state, "", stop=True) if kind == "end")


def _score(state: WorldState, rest: str) -> tuple[float, int]:
    prob, parses = 0.0, 0
    for kind, p, payload in _step_outcomes(state, rest, stop=False):
        if kind != "step":
            continue
        text, after = payload
        if text == rest:
            q, n = _end_probability(after), 1
        elif rest.startswith(text + " "):
            q, n = _score(after, rest[len(text) + 1:])
        else:
            continue
        prob += p * q
        parses += n if q > 0 else 0
    return prob, parses


def score_story(text: str) -> StoryScore:
    """The exact probability of one complete story (its text, as in ``story.text``) under the generator."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}")
    text = _clean(text)
    if not text:
        raise ValueError("empty story")
    prob, parses = _score(WorldState.empty(), text)
    return StoryScore(-math.log(prob) if prob > 0 else math.inf, parses)


# ========================================================================= public entry points
def true_next_word_distribution(prefix: str, state: WorldState | None = None) -> dict[str, float]:
    """The exact probability of each next word after ``prefix``, from the generator's own weights.

    Without ``state``: ``prefix`` begins a sentence, and the answer is averaged over every place in the
    corpus where a sentence starts that way (see the module docstring for the supported forms; others
    raise ValueError). With ``state`` (e.g. ``story.states[i]``): the answer is conditioned on that story
    so far (a step boundary: not the state right after a question, see ``WorldState.mid_step``), and any
    continuing prefix works. Words are as :func:`~nbutils.world.corpus.words` splits them, so the
    word after "Where is the cat" is "?". The result is sorted, most likely first, and sums to 1.

    >>> dist = true_next_word_distribution("The cat is on the")
    >>> max(dist, key=dist.get)
    'roof'
    """
    if state is not None:
        return next_word_distribution(state, prefix)
    return _sentence_initial(_clean(prefix))


def true_next_word_entropy(prefix: str, state: WorldState | None = None) -> Entropy:
    """Entropy of :func:`true_next_word_distribution`, in nats and bits."""
    dist = true_next_word_distribution(prefix, state)
    nats = -sum(p * math.log(p) for p in dist.values() if p > 0)
    return Entropy(nats, nats / math.log(2))
