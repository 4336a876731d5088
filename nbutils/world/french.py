"""English -> French sentence pairs about the toy world: a small translation task for fine-tuning.

The sentences talk about the same children, animals, toys, things and places as the stories, and the
lexicon already knows each noun's French form and gender and each adjective's four French forms. A few
templates (``Pair.kind``) combine them:

- ``location``: "The cat is on the roof." -> "Le chat est sur le toit.",
  "The birds are in the tree." -> "Les oiseaux sont dans l'arbre.", "Mia is at the park." -> "Mia est au parc."
- ``movement``: "The dogs run into the garden." -> "Les chiens courent dans le jardin.",
  "The cat hides under the bed." -> "Le chat se cache sous le lit."
- ``put``: "Mia puts the red ball in the box." -> "Mia met la balle rouge dans la boîte."
- ``opinion``: "Tom loves the small cat." -> "Tom aime le petit chat.",
  "Mia and Tom do not like the rain." -> "Mia et Tom n'aiment pas la pluie."
- ``possession``: "Tom has an old umbrella." -> "Tom a un vieux parapluie.",
  "The dog's ball is red." -> "La balle du chien est rouge."
- ``description``: "The ball is red." -> "La balle est rouge.", "Mia is happy." -> "Mia est heureuse."

Word-for-word lookup is not enough, because French needs:

- articles that agree with the noun's gender and number: le chat, la balle, les oiseaux; un / une;
- elision before a vowel sound: l'arbre, l'école, n'aime pas, but le hibou (an aspirated h);
- contractions: à + le = au ("at the park" -> "au parc"), de + le = du, à + les = aux, de + les = des;
- adjectives that agree (noir, noire, noirs, noires) and mostly follow the noun ("la balle rouge"),
  except a few that come first ("le petit chat", "la vieille tasse"), with the special forms vieil,
  bel and nouvel before a masculine noun that starts with a vowel ("le vieil oiseau");
- verbs that agree with the subject (est / sont, aime / aiment, met / mettent) and word order that
  changes ("Tom's cat" -> "le chat de Tom", "hides under" -> "se cache sous" but "hides the key" ->
  "cache la clé").

**Unseen combinations.** Before writing anything, a share of the (adjective, noun) combinations
("red" + "kite", "old" + "owl") is set aside: the training and validation sentences never use them, and
about half of the test sentences use at least one of them (``Pair.unseen`` is True exactly when a test
sentence has an adjective-noun combination that no training sentence has). A model that translates
those correctly has learned to compose, not to look up phrases it has seen.

Usage::

    data = translation_dataset(seed=0)          # 6000 / 500 / 1000 pairs
    data.train[0]                               # Pair(en='...', fr='...', kind='location', unseen=False)
    english, french = data.sources_targets("test")

No English or French sentence occurs twice (so the splits are disjoint), the course's examples above
are always in the training split, and the same seed always gives the same pairs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable, Union

from nbutils.world.choice import Dist
from nbutils.world.lexicon import (
    BOYS, COLORS, EMOTIONS, FOODS, GIRLS, GROUPS, HABITATS, LIKED_PLACES, MORE_ADJECTIVES, PETS, PLACES,
    THING_ADJECTIVES, THINGS, TOYS, WEATHER_THINGS, Adjective, Noun, Person, Place, plural_verb,
)

__all__ = ["Pair", "TranslationData", "translation_dataset", "TRANSLATION_KINDS", "ADJECTIVES_FOR",
           "RUNNING_PAIR"]

#: The templates, with how often each is used.
TRANSLATION_KINDS: dict[str, float] = {"location": 0.20, "movement": 0.17, "put": 0.13, "opinion": 0.18,
                                       "possession": 0.16, "description": 0.16}
#: The course's running example; it is always in the training split.
RUNNING_PAIR = ("The cat is on the roof.", "Le chat est sur le toit.")


@dataclass(frozen=True)
class Pair:
    """An English sentence, its French translation, its template, and whether it is an unseen combination.

    ``unseen`` is True for a test (or validation) sentence that uses an adjective-noun combination no
    training sentence uses ("the grey owl" when training only had other grey animals and other owls).
    """

    en: str
    fr: str
    kind: str
    unseen: bool = False


@dataclass(frozen=True)
class TranslationData:
    """The pairs of one seed, and the adjective-noun combinations kept out of training.

    ``held_out`` holds (English adjective, English noun) combinations, e.g. ``("grey", "owl")``, that no
    training or validation sentence uses.
    """

    seed: int
    train: list[Pair]
    val: list[Pair]
    test: list[Pair]
    held_out: frozenset[tuple[str, str]]

    def split(self, name: str) -> list[Pair]:
        """The pairs of ``"train"``, ``"val"`` or ``"test"``."""
        splits = {"train": self.train, "val": self.val, "validation": self.val, "test": self.test}
        if name not in splits:
            raise ValueError(f"unknown split {name!r}: use 'train', 'val' or 'test'")
        return splits[name]

    def sources_targets(self, name: str) -> tuple[list[str], list[str]]:
        """The English sentences and their French translations of a split, as two lists."""
        pairs = self.split(name)
        return [p.en for p in pairs], [p.fr for p in pairs]

    def __repr__(self) -> str:
        n_unseen = sum(p.unseen for p in self.test)
        return (f"TranslationData(seed={self.seed}, train={len(self.train)}, val={len(self.val)}, "
                f"test={len(self.test)} ({n_unseen} unseen combinations))")


# --------------------------------------------------------------------------------------- the words
_ADJECTIVES: dict[str, Adjective] = {}
for _a in (list(COLORS.items) + [a for a in THING_ADJECTIVES.items if a is not None] + list(EMOTIONS.items)
           + list(MORE_ADJECTIVES)):
    _ADJECTIVES.setdefault(_a.en, _a)

_COLOR_WORDS = tuple(a.en for a in COLORS.items)
#: Which adjectives go with which kind of noun, in English.
ADJECTIVES_FOR: dict[str, tuple[str, ...]] = {
    "animal": ("black", "white", "brown", "grey", "small", "big", "little", "old", "young", "beautiful", "good",
               "happy", "sad", "tired", "hungry", "sleepy", "angry", "scared", "calm", "curious", "shy", "proud",
               "grumpy"),
    "toy": _COLOR_WORDS + ("small", "big", "little", "old", "new", "beautiful", "shiny"),
    "thing": _COLOR_WORDS + ("big", "small", "little", "old", "new", "shiny", "heavy", "soft", "beautiful", "pretty"),
    "person": tuple(a.en for a in EMOTIONS.items),
}
#: Adjectives used only before a noun: "the good dog" is "le bon chien", but "le chien est bon" would
#: say the dog is tasty, and "the cup is little" is odd English.
_ATTRIBUTIVE_ONLY = {"good", "little"}
#: Adjectives that would contradict each other on one noun ("the black cat is white").
_CLASHES = (set(_COLOR_WORDS) | {"grey"}, {"small", "little", "big"}, {"old", "new", "young"})

#: English noun -> (Noun, category "animal"/"toy"/"thing", habitat key)
_NOUNS: dict[str, tuple[Noun, str, str]] = {}
for _kind in list(PETS.items) + list(GROUPS.items):
    _NOUNS[_kind.noun.en] = (_kind.noun, "animal", _kind.habitat)
for _obj in TOYS.items:
    _NOUNS[_obj.noun.en] = (_obj.noun, "toy", "toy")
for _obj in THINGS.items:
    _NOUNS[_obj.noun.en] = (_obj.noun, "thing", "thing")
_BY_CATEGORY = {c: [n for n, (_, cat, _) in _NOUNS.items() if cat == c] for c in ("animal", "toy", "thing")}
#: What people and animals may have opinions about, besides animals and objects: (noun, plural?)
_OTHER_TARGETS = list(FOODS.items) + list(WEATHER_THINGS.items) + list(LIKED_PLACES.items)

_PEOPLE = {p.name: p for p in list(GIRLS.items) + list(BOYS.items)}

# French grammar facts
_VOWELS = "aeiouyàâäéèêëîïôöûüùœ"
_ASPIRATED_H = ("hibou", "hamster")          # "le hibou", not "l'hibou"
_BEFORE_VOWEL = {"vieux": "vieil", "beau": "bel", "nouveau": "nouvel"}   # "le vieil oiseau"
_CONTRACTIONS = {("à", "le"): "au", ("à", "les"): "aux", ("de", "le"): "du", ("de", "les"): "des"}
_NUMBERS = {"two": "deux", "three": "trois"}

# Verbs: (English, 3rd person singular), French singular, French plural. English plurals: plural_verb().
_BE = ("is", "est", "sont")
_HAVE = ("has", "a", "ont")
_PUT_VERBS = (("puts", "met", "mettent"), ("hides", "cache", "cachent"))
_OPINIONS = (("loves", "aime", "aiment"), ("likes", "aime bien", "aiment bien"), ("hates", "déteste", "détestent"),
             ("does not like", "n'aime pas", "n'aiment pas"))
#: Movements by the place's preposition: English verb phrase ending in its own preposition, French verb.
_MOVES = {
    "on": (("jumps onto", "saute", "sautent"), ("climbs onto", "grimpe", "grimpent")),
    "in": (("runs into", "court", "courent"), ("goes into", "va", "vont"), ("jumps into", "saute", "sautent")),
    "under": (("hides under", "se cache", "se cachent"), ("crawls under", "rampe", "rampent")),
    "at": (("goes to", "va", "vont"), ("runs to", "court", "courent")),
}


# ------------------------------------------------------------------------------------ noun phrases
@dataclass(frozen=True)
class _Thing:
    """An animal or an object in a sentence: its noun, number and (optional) adjective."""

    noun: Noun
    plural: bool = False
    adjective: Adjective | None = None


@dataclass(frozen=True)
class _People:
    """One child ("Mia") or two ("Mia and Tom")."""

    persons: tuple[Person, ...]


_Subject = Union[_Thing, _People]


def _is_plural(s: _Subject) -> bool:
    return len(s.persons) > 1 if isinstance(s, _People) else s.plural


def _gender(s: _Subject) -> str:
    """French gender: a group of people is feminine only if everyone in it is a girl."""
    if isinstance(s, _People):
        return "f" if all(p.gender == "f" for p in s.persons) else "m"
    return s.noun.fr_gender


def _vowel_sound(word: str) -> bool:
    """Does a French word start with a vowel sound (so "le"/"la" become "l'")?"""
    w = word.lower()
    if w.startswith("h"):
        return not w.startswith(_ASPIRATED_H)
    return w[0] in _VOWELS


def _capital(text: str) -> str:
    return text[0].upper() + text[1:]


def _en(s: _Subject, det: str = "the") -> str:
    """English noun phrase: "the red ball", "an old cup", "two cats", "Mia and Tom"."""
    if isinstance(s, _People):
        return " and ".join(p.name for p in s.persons)
    noun = s.noun.en_plural if s.plural else s.noun.en
    body = f"{s.adjective.en} {noun}" if s.adjective else noun
    if det == "a":
        return ("an " if body[0] in "aeiou" else "a ") + body
    return f"{det} {body}"


def _en_possessive(s: _Subject) -> str:
    """ "Tom's", "the cat's", "the cats'", "the mice's"."""
    words = _en(s)
    return words + ("'" if words.endswith("s") and _is_plural(s) else "'s")


def _fr_body(t: _Thing) -> str:
    """French noun with its adjective in the right place and form: "balle rouge", "vieil oiseau"."""
    noun = t.noun.fr_plural if t.plural else t.noun.fr
    if t.adjective is None:
        return noun
    form = t.adjective.fr(t.noun.fr_gender, t.plural)
    if not t.adjective.fr_before_noun:
        return f"{noun} {form}"
    if not t.plural and t.noun.fr_gender == "m" and _vowel_sound(noun):
        form = _BEFORE_VOWEL.get(form, form)
    return f"{form} {noun}"


def _fr(s: _Subject, det: str = "the", prep: str | None = None) -> str:
    """French noun phrase, after an optional preposition: "la balle rouge", "l'arbre", "au parc", "du chien"."""
    if isinstance(s, _People):
        names = " et ".join(p.name for p in s.persons)
        return f"{prep} {names}" if prep else names
    body = _fr_body(s)
    if det == "the":
        article = "les" if s.plural else "l'" if _vowel_sound(body) else "le" if s.noun.fr_gender == "m" else "la"
    elif det == "a":
        article = "un" if s.noun.fr_gender == "m" else "une"
    else:
        article = _NUMBERS[det]
    if prep and (prep, article) in _CONTRACTIONS:
        return f"{_CONTRACTIONS[prep, article]} {body}"
    phrase = article + body if article.endswith("'") else f"{article} {body}"
    return f"{prep} {phrase}" if prep else phrase


def _fr_place(place: Place) -> str:
    return _fr(_Thing(place.noun), prep=place.fr_prep)


def _verb(s: _Subject, en_singular: str, fr_singular: str, fr_plural: str) -> tuple[str, str]:
    """The English and French verb forms that agree with the subject."""
    if _is_plural(s):
        return plural_verb(en_singular), fr_plural
    return en_singular, fr_singular


def _negate_fr(verb: str) -> str:
    """ "est" -> "n'est pas", "sont" -> "ne sont pas"."""
    return ("n'" if _vowel_sound(verb) else "ne ") + verb + " pas"


def _pairs(*things: _Subject) -> set[tuple[str, str]]:
    """The (adjective, noun) combinations of noun phrases, in English."""
    return {(t.adjective.en, t.noun.en) for t in things if isinstance(t, _Thing) and t.adjective is not None}


# --------------------------------------------------------------------------------------- templates
@dataclass(frozen=True)
class _Sentence:
    en: str
    fr: str
    kind: str
    pairs: frozenset[tuple[str, str]]


def _sentence(en: str, fr: str, kind: str, pairs: set[tuple[str, str]]) -> _Sentence:
    return _Sentence(_capital(en) + ".", _capital(fr) + ".", kind, frozenset(pairs))


def _location(subject: _Subject, place: Place, negated: bool = False) -> _Sentence:
    be_en, be_fr = _verb(subject, *_BE)
    if negated:
        be_en, be_fr = be_en + " not", _negate_fr(be_fr)
    return _sentence(f"{_en(subject)} {be_en} {place.phrase}", f"{_fr(subject)} {be_fr} {_fr_place(place)}",
                     "location", _pairs(subject))


def _movement(subject: _Subject, move: tuple[str, str, str], place: Place) -> _Sentence:
    verb_en, verb_fr = _verb(subject, *move)
    return _sentence(f"{_en(subject)} {verb_en} the {place.noun.en}", f"{_fr(subject)} {verb_fr} {_fr_place(place)}",
                     "movement", _pairs(subject))


def _put(subject: _People, verb: tuple[str, str, str], obj: _Thing, place: Place) -> _Sentence:
    verb_en, verb_fr = _verb(subject, *verb)
    return _sentence(f"{_en(subject)} {verb_en} {_en(obj)} {place.phrase}",
                     f"{_fr(subject)} {verb_fr} {_fr(obj)} {_fr_place(place)}", "put", _pairs(obj))


def _opinion(subject: _Subject, verb: tuple[str, str, str], obj: _Thing) -> _Sentence:
    verb_en, verb_fr = _verb(subject, *verb)
    return _sentence(f"{_en(subject)} {verb_en} {_en(obj)}", f"{_fr(subject)} {verb_fr} {_fr(obj)}", "opinion",
                     _pairs(subject, obj))


def _has(subject: _Subject, obj: _Thing, det: str) -> _Sentence:
    verb_en, verb_fr = _verb(subject, *_HAVE)
    return _sentence(f"{_en(subject)} {verb_en} {_en(obj, det)}", f"{_fr(subject)} {verb_fr} {_fr(obj, det)}",
                     "possession", _pairs(subject, obj))


def _predicate(subject: _Subject, predicate: Place | Adjective) -> tuple[str, str, set[tuple[str, str]]]:
    """ "is on the roof" / "is black", in both languages, and the combination a predicate adjective makes."""
    be_en, be_fr = _verb(subject, *_BE)
    if isinstance(predicate, Place):
        return f"{be_en} {predicate.phrase}", f"{be_fr} {_fr_place(predicate)}", set()
    pairs = {(predicate.en, subject.noun.en)} if isinstance(subject, _Thing) else set()
    return f"{be_en} {predicate.en}", f"{be_fr} {predicate.fr(_gender(subject), _is_plural(subject))}", pairs


def _whose(owner: _Subject, owned: _Thing, predicate: Place | Adjective) -> _Sentence:
    """ "Tom's cat is on the roof." -> "Le chat de Tom est sur le toit."; "the dog's ball" -> "la balle du chien"."""
    pred_en, pred_fr, pairs = _predicate(owned, predicate)
    return _sentence(f"{_en_possessive(owner)} {_en(owned)[4:]} {pred_en}",
                     f"{_fr(owned)} {_fr(owner, prep='de')} {pred_fr}", "possession", pairs | _pairs(owner, owned))


def _description(subject: _Subject, adjective: Adjective, negated: bool = False, very: bool = False) -> _Sentence:
    be_en, be_fr = _verb(subject, *_BE)
    if negated:
        be_en, be_fr = be_en + " not", _negate_fr(be_fr)
    if very:
        be_en, be_fr = be_en + " very", be_fr + " très"
    pairs = _pairs(subject) | ({(adjective.en, subject.noun.en)} if isinstance(subject, _Thing) else set())
    form = adjective.fr(_gender(subject), _is_plural(subject))
    return _sentence(f"{_en(subject)} {be_en} {adjective.en}", f"{_fr(subject)} {be_fr} {form}", "description", pairs)


# ---------------------------------------------------------------------------------- random drawing
def _pick(rng: random.Random, dist: Dist):
    return rng.choices(dist.items, weights=dist.probs)[0]


def _person(rng: random.Random) -> Person:
    return _pick(rng, GIRLS if rng.random() < 0.5 else BOYS)


def _people(rng: random.Random, two_share: float = 0.25) -> _People:
    first = _person(rng)
    if rng.random() >= two_share:
        return _People((first,))
    second = _person(rng)
    while second == first:
        second = _person(rng)
    return _People((first, second))


def _thing(rng: random.Random, category: str, adjective_share: float = 0.5, plural_share: float = 0.3) -> _Thing:
    noun = _NOUNS[rng.choice(_BY_CATEGORY[category])][0]
    adjective = _ADJECTIVES[rng.choice(ADJECTIVES_FOR[category])] if rng.random() < adjective_share else None
    return _Thing(noun, rng.random() < plural_share, adjective)


def _category(s: _Subject) -> str:
    return "person" if isinstance(s, _People) else _NOUNS[s.noun.en][1]


def _habitat(s: _Subject) -> Dist[Place]:
    return HABITATS["person" if isinstance(s, _People) else _NOUNS[s.noun.en][2]]


def _subject(rng: random.Random, weights: dict[str, float]) -> _Subject:
    category = rng.choices(list(weights), weights=list(weights.values()))[0]
    return _people(rng) if category == "person" else _thing(rng, category)


def _clashes(a: Adjective | None, b: Adjective) -> bool:
    if a is None:
        return False
    return a.en == b.en or any(a.en in group and b.en in group for group in _CLASHES)


def _predicate_adjective(rng: random.Random, s: _Subject) -> Adjective:
    """An adjective for "<s> is ..." that does not contradict the subject's own ("the black cat is white")."""
    own = s.adjective if isinstance(s, _Thing) else None
    choices = [a for a in ADJECTIVES_FOR[_category(s)]
               if a not in _ATTRIBUTIVE_ONLY and not _clashes(own, _ADJECTIVES[a])]
    return _ADJECTIVES[rng.choice(choices)]


def _draw_location(rng: random.Random) -> _Sentence:
    s = _subject(rng, {"person": 25, "animal": 45, "toy": 15, "thing": 15})
    return _location(s, _pick(rng, _habitat(s)), negated=rng.random() < 0.15)


def _draw_movement(rng: random.Random) -> _Sentence:
    s = _subject(rng, {"person": 35, "animal": 65})
    place = _pick(rng, _habitat(s))
    moves = [m for m in _MOVES[place.prep] if not (isinstance(s, _People) and m[0].startswith("jumps"))]
    return _movement(s, rng.choice(moves), place)


def _draw_put(rng: random.Random) -> _Sentence:
    obj = _thing(rng, rng.choice(("toy", "thing")))
    verb = _PUT_VERBS[0] if rng.random() < 0.75 else _PUT_VERBS[1]
    return _put(_people(rng), verb, obj, _pick(rng, _habitat(obj)))


def _draw_opinion(rng: random.Random) -> _Sentence:
    s = _subject(rng, {"person": 80, "animal": 20})
    r = rng.random()
    if r < 0.25:
        noun, plural = rng.choice(_OTHER_TARGETS)
        obj = _Thing(noun, plural)
    else:
        obj = _thing(rng, "animal" if r < 0.55 else rng.choice(("toy", "thing")))
    if isinstance(s, _Thing) and s.noun == obj.noun:  # not "the cat loves the cat"
        obj = _thing(rng, rng.choice(("toy", "thing")))
    return _opinion(s, rng.choice(_OPINIONS), obj)


def _draw_possession(rng: random.Random) -> _Sentence:
    r = rng.random()
    if r < 0.4:
        owner = _subject(rng, {"person": 80, "animal": 20})
    else:
        owner = _People((_person(rng),)) if r < 0.75 else _thing(rng, "animal", plural_share=0.25)
    # children own animals and objects; animals own only objects ("the dog's ball")
    owned = _thing(rng, rng.choice(("animal", "toy", "thing") if isinstance(owner, _People) else ("toy", "thing")))
    if r < 0.4:
        return _has(owner, owned, "a" if not owned.plural else rng.choice(("two", "three")))
    predicate = _pick(rng, _habitat(owned)) if rng.random() < 0.5 else _predicate_adjective(rng, owned)
    return _whose(owner, owned, predicate)


def _draw_description(rng: random.Random) -> _Sentence:
    s = _subject(rng, {"person": 25, "animal": 40, "toy": 18, "thing": 17})
    adjective, r = _predicate_adjective(rng, s), rng.random()
    very = 0.15 <= r < 0.3 and adjective.en not in _CLASHES[0]   # "very happy", not "very brown"
    return _description(s, adjective, negated=r < 0.15, very=very)


_DRAWERS: dict[str, Callable[[random.Random], _Sentence]] = {
    "location": _draw_location, "movement": _draw_movement, "put": _draw_put, "opinion": _draw_opinion,
    "possession": _draw_possession, "description": _draw_description,
}


def _course_examples() -> list[_Sentence]:
    """The examples the course quotes; they are always in the training split."""
    def thing(noun: str, adjective: str | None = None, plural: bool = False) -> _Thing:
        return _Thing(_NOUNS[noun][0], plural, _ADJECTIVES[adjective] if adjective else None)

    mia, tom = _People((_PEOPLE["Mia"],)), _People((_PEOPLE["Tom"],))
    return [
        _location(thing("cat"), PLACES["on the roof"]),
        _put(mia, _PUT_VERBS[0], thing("ball", "red"), PLACES["in the box"]),
        _location(thing("bird", plural=True), PLACES["in the tree"]),
        _opinion(tom, _OPINIONS[0], thing("cat", "small")),
        _description(thing("ball"), _ADJECTIVES["red"]),
        _location(mia, PLACES["at the park"]),
    ]


# ------------------------------------------------------------------------------------- the dataset
def _all_combinations() -> list[tuple[str, str]]:
    return sorted((a, n) for category, nouns in _BY_CATEGORY.items() for n in nouns for a in ADJECTIVES_FOR[category])


def _check_count(name: str, value: object, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


def translation_dataset(seed: int = 0, n_train: int = 6000, n_val: int = 500, n_test: int = 1000,
                        held_out_share: float = 0.08, unseen_share: float = 0.5) -> TranslationData:
    """Write the English -> French pairs, deterministically from ``seed``.

    Args:
        seed: the same seed always gives the same pairs.
        n_train, n_val, n_test: sizes of the splits. The training split always holds the course's
            examples ("The cat is on the roof." -> "Le chat est sur le toit.", ...).
        held_out_share: share of the adjective-noun combinations kept out of training and validation.
        unseen_share: share of the test sentences drawn to use a held-out combination.

    Returns:
        A :class:`TranslationData`; no English and no French sentence occurs twice in it.
    """
    _check_count("seed", seed, 0)
    _check_count("n_train", n_train, len(_course_examples()))
    _check_count("n_val", n_val, 0)
    _check_count("n_test", n_test, 0)
    for name, share in (("held_out_share", held_out_share), ("unseen_share", unseen_share)):
        if not isinstance(share, (int, float)) or not 0.0 <= share <= 1.0:
            raise ValueError(f"{name} must be a number in [0, 1], got {share!r}")
    if unseen_share > 0 and n_test > 0 and held_out_share == 0:
        raise ValueError("unseen test sentences need held-out combinations: held_out_share must be > 0")
    rng = random.Random(seed)
    examples = _course_examples()
    protected = set().union(*(e.pairs for e in examples))
    candidates = [c for c in _all_combinations() if c not in protected]
    held_out = frozenset(rng.sample(candidates, round(held_out_share * len(candidates))))
    kinds, weights = list(TRANSLATION_KINDS), list(TRANSLATION_KINDS.values())
    seen_en = {e.en for e in examples}
    seen_fr = {e.fr for e in examples}

    def draw(n: int, want_held_out: bool) -> list[_Sentence]:
        """``n`` new sentences; with ``want_held_out`` each uses a held-out combination, else none does."""
        out = []
        for _ in range(n):
            kind = rng.choices(kinds, weights=weights)[0]
            for _ in range(5000):
                s = _DRAWERS[kind](rng)
                if bool(s.pairs & held_out) == want_held_out and s.en not in seen_en and s.fr not in seen_fr:
                    break
            else:
                raise RuntimeError(f"could not write a new {kind!r} sentence: ask for fewer pairs")
            seen_en.add(s.en)
            seen_fr.add(s.fr)
            out.append(s)
        return out

    train_s = examples + draw(n_train - len(examples), False)
    rng.shuffle(train_s)
    train_pairs = set().union(*(s.pairs for s in train_s))
    val_s = draw(n_val, False)
    n_unseen = round(unseen_share * n_test)
    test_s = draw(n_unseen, True) + draw(n_test - n_unseen, False)
    rng.shuffle(test_s)

    def to_pairs(sentences: list[_Sentence], flag: bool) -> list[Pair]:
        return [Pair(s.en, s.fr, s.kind, flag and bool(s.pairs - train_pairs)) for s in sentences]

    return TranslationData(seed, to_pairs(train_s, False), to_pairs(val_s, True), to_pairs(test_s, True), held_out)
