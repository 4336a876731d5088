"""Tests of the English -> French pairs: French agreement, determinism, disjoint splits, unseen combinations.

The French is checked by a small independent checker written here from French grammar and the
lexicon's word list (not from the generator's code): each article agrees with its noun and elides
before a vowel sound, each adjective has the noun's gender and number and sits on the right side of it,
contractions (au, aux, du, des) are used, and the verb agrees with the subject.
"""

from __future__ import annotations

import re
import time
from collections import Counter

import pytest

from nbutils.world import TRANSLATION_KINDS, Pair, TranslationData, translation_dataset
from nbutils.world.lexicon import (
    BOYS, COLORS, EMOTIONS, FOODS, GIRLS, GROUPS, LIKED_PLACES, MORE_ADJECTIVES, PETS, PLACES, THING_ADJECTIVES,
    THINGS, TOYS, WEATHER_THINGS,
)

# ----------------------------------------------------------------------- the lexicon, French side
_NOUN_LIST = ([k.noun for k in PETS.items + GROUPS.items + TOYS.items + THINGS.items]
              + [n for n, _ in FOODS.items + WEATHER_THINGS.items + LIKED_PLACES.items]
              + [p.noun for p in PLACES.values()])
FR_NOUNS: dict[str, tuple[str, set[bool]]] = {}          # French form -> (gender, possible numbers)
for _n in _NOUN_LIST:
    for _form, _plural in ((_n.fr, False), (_n.fr_plural, True)):
        FR_NOUNS.setdefault(_form, (_n.fr_gender, set()))[1].add(_plural)
_ADJECTIVE_LIST = (list(COLORS.items) + [a for a in THING_ADJECTIVES.items if a is not None] + list(EMOTIONS.items)
                   + list(MORE_ADJECTIVES))
FR_ADJECTIVES: dict[str, set[tuple[str, bool]]] = {}     # French form -> the (gender, plural) it can agree with
BEFORE_NOUN: set[str] = set()                            # forms of adjectives that go before the noun
for _a in _ADJECTIVE_LIST:
    for _form, _key in ((_a.fr_m, ("m", False)), (_a.fr_f, ("f", False)), (_a.fr_m_plural, ("m", True)),
                        (_a.fr_f_plural, ("f", True))):
        FR_ADJECTIVES.setdefault(_form, set()).add(_key)
        if _a.fr_before_noun:
            BEFORE_NOUN.add(_form)
# French grammar: before a masculine singular noun that starts with a vowel sound, three adjectives change
ELIDED_ADJECTIVES = {"vieil": "vieux", "bel": "beau", "nouvel": "nouveau"}
for _form in ELIDED_ADJECTIVES:
    FR_ADJECTIVES[_form] = {("m", False)}
    BEFORE_NOUN.add(_form)
NAMES = {p.name: p.gender for p in GIRLS.items + BOYS.items}

# article -> (gender or None for both, plural)
ARTICLES = {"le": ("m", False), "la": ("f", False), "l'": (None, False), "les": (None, True), "un": ("m", False),
            "une": ("f", False), "deux": (None, True), "trois": (None, True), "au": ("m", False), "aux": (None, True),
            "du": ("m", False), "des": (None, True)}
VERBS_SINGULAR = {"est", "a", "met", "cache", "aime", "déteste", "saute", "grimpe", "court", "va", "rampe"}
VERBS_PLURAL = {"sont", "ont", "mettent", "cachent", "aiment", "détestent", "sautent", "grimpent", "courent",
                "vont", "rampent"}
ASPIRATED_H = {"hibou", "hiboux", "hamster", "hamsters"}


def vowel_sound(word: str) -> bool:
    if word in ASPIRATED_H:
        return False
    return word[0] in "aeiouyéèêàâîôûh"


def tokens(sentence: str) -> list[str]:
    assert sentence.endswith(".") and sentence[0].isupper(), sentence
    words = re.findall(r"[\w-]+'|[\w-]+", sentence[:-1])
    return [words[0][0].lower() + words[0][1:] if words[0] not in NAMES else words[0]] + words[1:]


class Checker:
    """Reads one French sentence of the task and raises AssertionError at the first agreement error."""

    def __init__(self, sentence: str):
        self.sentence = sentence
        self.words = tokens(sentence)
        self.i = 0

    def fail(self, why: str) -> None:
        raise AssertionError(f"{why}: {self.sentence!r} (at word {self.i}: {self.words[self.i:self.i + 3]})")

    def peek(self, k: int = 0) -> str | None:
        return self.words[self.i + k] if self.i + k < len(self.words) else None

    def noun(self) -> tuple[str, tuple[str, set[bool]]]:
        for n in (3, 1):  # "salle de bain" is one noun
            candidate = " ".join(self.words[self.i:self.i + n])
            if candidate in FR_NOUNS:
                self.i += n
                return candidate, FR_NOUNS[candidate]
        self.fail("expected a noun")
        raise AssertionError  # unreachable

    def noun_phrase(self) -> tuple[str, bool]:
        """article [adjective] noun [adjective]; returns the noun's gender and number."""
        article = self.words[self.i]
        if article not in ARTICLES:
            self.fail("expected an article")
        art_gender, art_plural = ARTICLES[article]
        self.i += 1
        pre = None
        if self.peek() in BEFORE_NOUN:
            pre = self.words[self.i]
            self.i += 1
        first_after_article = pre or self.peek()
        noun, (gender, numbers) = self.noun()
        if art_plural not in numbers or art_gender not in (None, gender):
            self.fail(f"article {article!r} does not agree with {noun!r}")
        plural = art_plural
        # elision: l' exactly before a vowel sound (singular le/la only)
        if article in ("le", "la", "au", "du") and vowel_sound(first_after_article):
            self.fail("missing elision")
        if article == "l'" and not vowel_sound(first_after_article):
            self.fail("elision before a consonant")
        if pre is not None:
            if (gender, plural) not in FR_ADJECTIVES[pre]:
                self.fail(f"adjective {pre!r} does not agree with {noun!r}")
            if pre in ELIDED_ADJECTIVES and not vowel_sound(noun):
                self.fail(f"{pre!r} before a consonant")
            if pre in ELIDED_ADJECTIVES.values() and (gender, plural) == ("m", False) and vowel_sound(noun):
                self.fail(f"{pre!r} should be {pre!r}'s form before a vowel")
        post = self.peek()
        if post in FR_ADJECTIVES and post not in BEFORE_NOUN:
            if (gender, plural) not in FR_ADJECTIVES[post]:
                self.fail(f"adjective {post!r} does not agree with {noun!r}")
            self.i += 1
        elif post in BEFORE_NOUN and post not in FR_NOUNS:
            self.fail(f"{post!r} belongs before the noun")
        return gender, plural

    def names(self) -> tuple[str, bool]:
        genders = [NAMES[self.words[self.i]]]
        self.i += 1
        while self.peek() == "et":
            genders.append(NAMES[self.words[self.i + 1]])
            self.i += 2
        return ("f" if set(genders) == {"f"} else "m"), len(genders) > 1

    def subject(self) -> tuple[str, bool]:
        result = self.names() if self.peek() in NAMES else self.noun_phrase()
        # a possessor: "le chat de Tom", "la balle du chien", "la balle de la souris", "des chats"
        if self.peek() == "de":
            self.i += 1
            if self.peek() in NAMES:
                self.names()
            else:
                if self.peek() not in ("la", "l'"):
                    self.fail("'de' + article must contract")
                self.noun_phrase()
        elif self.peek() in ("du", "des"):
            self.noun_phrase()
        return result

    def check(self) -> None:
        gender, plural = self.subject()
        negated = self.peek() in ("ne", "n'")
        if negated:
            self.i += 1
        if self.peek() == "se":
            self.i += 1
        verb = self.peek()
        if verb not in (VERBS_PLURAL if plural else VERBS_SINGULAR):
            self.fail(f"verb {verb!r} does not agree with a {'plural' if plural else 'singular'} subject")
        if negated:
            if vowel_sound(verb) != (self.words[self.i - 1] == "n'"):
                self.fail("ne/n' elision")
            if self.peek(1) != "pas":
                self.fail("ne ... pas")
            self.i += 1
        self.i += 1
        if self.peek() == "bien":
            self.i += 1
        if self.peek() == "très":
            self.i += 1
        while self.i < len(self.words):
            word = self.words[self.i]
            if word in ("sur", "dans", "sous", "à"):
                self.i += 1
                if word == "à" and self.peek() not in ("la", "l'"):
                    self.fail("à + le/les must contract")
                self.noun_phrase()
            elif word in ARTICLES:
                self.noun_phrase()
            elif word in FR_ADJECTIVES and verb in ("est", "sont"):   # "la balle est rouge"
                if (gender, plural) not in FR_ADJECTIVES[word]:
                    self.fail(f"predicate {word!r} does not agree with the subject")
                self.i += 1
            else:
                self.fail("unexpected word")


def check_french(sentence: str) -> None:
    Checker(sentence).check()


# ---------------------------------------------------------------------- the lexicon, English side
EN_NOUNS = {}
for _k in PETS.items + GROUPS.items + TOYS.items + THINGS.items:
    EN_NOUNS[_k.noun.en] = _k.noun.en
    EN_NOUNS[_k.noun.en_plural] = _k.noun.en
EN_ADJECTIVES = {a.en for a in _ADJECTIVE_LIST}
_NOUN_RE = "|".join(sorted(map(re.escape, EN_NOUNS), key=len, reverse=True))
_ADJ_RE = "|".join(sorted(EN_ADJECTIVES, key=len, reverse=True))
ATTRIBUTIVE = re.compile(rf"\b({_ADJ_RE}) ({_NOUN_RE})\b")
PREDICATIVE = re.compile(rf"\b({_NOUN_RE}) (?:is|are) (?:not )?(?:very )?({_ADJ_RE})\b")


def combinations(en: str) -> set[tuple[str, str]]:
    """(adjective, noun) combinations of an English sentence: "the small cat", "the ball is red"."""
    found = {(a, EN_NOUNS[n]) for a, n in ATTRIBUTIVE.findall(en)}
    return found | {(a, EN_NOUNS[n]) for n, a in PREDICATIVE.findall(en)}


@pytest.fixture(scope="module")
def data() -> TranslationData:
    return translation_dataset(seed=0)


# ----------------------------------------------------------------------------------------- tests
COURSE_EXAMPLES = {
    "The cat is on the roof.": "Le chat est sur le toit.",
    "Mia puts the red ball in the box.": "Mia met la balle rouge dans la boîte.",
    "The birds are in the tree.": "Les oiseaux sont dans l'arbre.",
    "Tom loves the small cat.": "Tom aime le petit chat.",
    "The ball is red.": "La balle est rouge.",
    "Mia is at the park.": "Mia est au parc.",
}


def test_checker_catches_mistakes():
    for good in list(COURSE_EXAMPLES.values()) + ["Le vieil oiseau de Mia est sur le toit.",
                                                    "La balle du chien est sous le lit.", "Tom a un vieux hibou.",
                                                    "Mia et Anna sont heureuses."]:
        check_french(good)
    for bad in ["La chat est sur le toit.", "Le chat est sur le arbre.", "Le chat sont sur le toit.",
                "Mia met la balle rouges dans la boîte.", "Mia met la rouge balle dans la boîte.",
                "Mia est à le parc.", "Le vieux oiseau est sur le toit.", "Tom aime le chat petit.",
                "Mia et Anna sont heureux.", "Les chats est sur le toit.", "Le chat ne est pas sur le toit.",
                "La balle de le chien est rouge.", "L'hibou est dans l'arbre.", "La balle est rouges."]:
        with pytest.raises(AssertionError):
            check_french(bad)


def test_course_examples_are_in_train(data):
    train = {p.en: p.fr for p in data.train}
    for en, fr in COURSE_EXAMPLES.items():
        assert train[en] == fr
    assert Pair("The cat is on the roof.", "Le chat est sur le toit.", "location") in data.train


def test_every_french_sentence_agrees(data):
    for pair in data.train + data.val + data.test:
        check_french(pair.fr)


def test_english_and_french_match(data):
    """Light cross-checks: is/are -> est/sont, names and negation carried over, a/an before the right sound."""
    for p in data.train + data.val + data.test:
        en, fr = p.en.split(), tokens(p.fr)
        assert ("is" in en) == bool({"est"} & set(fr)) and ("are" in en) == bool({"sont"} & set(fr)), p
        assert [w for w in re.findall(r"[A-Za-z]+", p.en) if w in NAMES] == [w for w in fr if w in NAMES], p
        assert ("not" in en) == ("pas" in fr), p
        for article, following in re.findall(r"\b(an?) (\w)", p.en):
            assert (article == "an") == (following in "aeiou"), p


def test_sizes_kinds_speed():
    start = time.perf_counter()
    data = translation_dataset(seed=0)
    assert time.perf_counter() - start < 5.0
    assert (len(data.train), len(data.val), len(data.test)) == (6000, 500, 1000)
    for name in ("train", "test"):
        counts = Counter(p.kind for p in data.split(name))
        assert set(counts) == set(TRANSLATION_KINDS)
        for kind, share in TRANSLATION_KINDS.items():
            assert abs(counts[kind] / len(data.split(name)) - share) < 0.05, (name, kind)
    english, french = data.sources_targets("val")
    assert english == [p.en for p in data.val] and french == [p.fr for p in data.val]


def test_splits_are_disjoint_and_without_duplicates(data):
    all_pairs = data.train + data.val + data.test
    assert len({p.en for p in all_pairs}) == len(all_pairs)
    assert len({p.fr for p in all_pairs}) == len(all_pairs)


def test_same_seed_same_pairs():
    a, b = translation_dataset(seed=5, n_train=400, n_val=50, n_test=100), \
        translation_dataset(seed=5, n_train=400, n_val=50, n_test=100)
    c = translation_dataset(seed=6, n_train=400, n_val=50, n_test=100)
    assert a == b
    assert a.train != c.train and a.held_out != c.held_out


def test_unseen_combinations_are_really_unseen(data):
    assert combinations("Tom loves the small cat.") == {("small", "cat")}
    assert combinations("The dog's red balls are not very big.") == {("red", "ball"), ("big", "ball")}
    train_combos = set().union(*(combinations(p.en) for p in data.train))
    train_words = {w for p in data.train for w in re.findall(r"[a-z]+", p.en.lower())}
    assert not train_combos & data.held_out
    assert not set().union(*(combinations(p.en) for p in data.val)) & data.held_out
    unseen = [p for p in data.test if p.unseen]
    assert 0.45 <= len(unseen) / len(data.test) <= 0.6
    for p in data.test:
        new = combinations(p.en) - train_combos
        assert p.unseen == bool(new), p
        for adjective, noun in new:   # a new combination of known words
            assert adjective in train_words and set(noun.split()) <= train_words, p
    assert not any(p.unseen for p in data.train)
    assert {k for p in unseen for k in [p.kind]} >= {"location", "opinion", "description", "possession"}


def test_translation_needs_more_than_word_lookup(data):
    """The same English word gets different French words in different sentences."""
    fr_text = " ".join(p.fr for p in data.train)
    for variants in (["le chat", "du chat", "les chats", "des chats"], ["la balle rouge", "les balles", "balles bleues"],
                     ["l'oiseau", "les oiseaux"], ["au parc", "à la plage", "à l'école"],
                     ["n'est pas", "ne sont pas"], ["vieil", "vieux", "vieille"], ["bel ", "beau ", "belle "]):
        for v in variants:
            assert v in fr_text, v


def test_bad_arguments():
    with pytest.raises(ValueError):
        translation_dataset(seed=-1)
    with pytest.raises(TypeError):
        translation_dataset(n_train=10.0)
    with pytest.raises(ValueError):
        translation_dataset(n_train=3)
    with pytest.raises(ValueError):
        translation_dataset(held_out_share=1.5)
    with pytest.raises(ValueError):
        translation_dataset(held_out_share=0.0)
    with pytest.raises(ValueError):
        translation_dataset(n_train=100, n_val=10, n_test=10).split("dev")
