"""Reading a translation's errors, word by word, through the toy world's French lexicon.

Exact match and chrF (``nbutils.metrics``) say *how much* a translation is wrong; this module says *how*:
a dropped or added word, another noun, the right noun in the wrong number, an article or adjective that
does not agree with its noun, a misspelt word (``error_kinds``, ``error_type``). ``aligned_words`` and
``reordering`` measure how much a translation reorders the content words (*the red ball* -> *la balle
rouge*).

It lives beside the translation task, not in ``nbutils.metrics``, because it knows the toy world's words
(``nbutils.world.lexicon`` and ``nbutils.world.french``); the metrics work on any text.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections import defaultdict
from typing import Any

__all__ = ["ERROR_TYPES", "french_words", "french_nouns", "french_adjectives", "error_kinds", "error_type",
           "aligned_words", "reordering"]


# ----------------------------------------------------------------------------------------- reading errors
#: The kinds of error ``error_type`` tells apart, from the most to the least serious (a translation with
#: several is labelled with the first that applies).
ERROR_TYPES = ("misspelt word", "word dropped", "word added", "wrong noun", "wrong adjective", "other wrong word",
               "wrong number", "wrong agreement", "wrong name")

_ELISION = re.compile(r"\b([ldnLDN]')")


def french_words(text: str) -> list[str]:
    """The words of a French sentence, the elided article or negation as a word of its own.

    ``"L'abeille n'aime pas la pluie."`` -> ``["L'", "abeille", "n'", "aime", "pas", "la", "pluie"]``: so that
    *l'abeille* and *la vache* both have two words, an article and a noun.
    """
    return _ELISION.sub(r"\1 ", text.strip().rstrip(".")).split()


@functools.lru_cache(maxsize=1)
def _french_forms() -> dict[str, frozenset[tuple[str, str, str | None, str]]]:
    """Every French word form of the world: word -> {(lemma, part of speech, gender or None, 's'/'p')}."""
    from nbutils.world import french, lexicon

    forms: dict[str, set[tuple[str, str, str | None, str]]] = defaultdict(set)
    for noun in french_nouns():
        for word, number in ((noun.fr, "s"), (noun.fr_plural, "p")):
            if " " not in word:
                forms[word].add((noun.en, "noun", noun.fr_gender, number))
    for adjective in french_adjectives():
        for word, gender, number in ((adjective.fr_m, "m", "s"), (adjective.fr_f, "f", "s"),
                                     (adjective.fr_m_plural, "m", "p"), (adjective.fr_f_plural, "f", "p")):
            forms[word].add((adjective.en, "adjective", gender, number))
    for short, long in (("vieil", "vieux"), ("bel", "beau"), ("nouvel", "nouveau")):
        forms[short] |= {f for f in forms[long] if f[2:] == ("m", "s")}
    articles = {"le": ("the", "m", "s"), "la": ("the", "f", "s"), "l'": ("the", None, "s"), "les": ("the", None, "p"),
                "un": ("a", "m", "s"), "une": ("a", "f", "s"), "du": ("of the", "m", "s"),
                "des": ("of the", None, "p"), "au": ("to the", "m", "s"), "aux": ("to the", None, "p"),
                "deux": ("number", None, "p"), "trois": ("number", None, "p")}
    for word, (lemma, gender, number) in articles.items():
        forms[word].add((lemma, "article", gender, number))
    verbs = [french._BE, french._HAVE, *french._PUT_VERBS, *french._OPINIONS,
             *(move for moves in french._MOVES.values() for move in moves)]
    for english, singular, plural in verbs:
        for phrase, number in ((singular, "s"), (plural, "p")):
            word = phrase.split()[-1] if phrase.startswith("se ") else phrase.split()[0].removeprefix("n'")
            forms[word].add((english, "verb", None, number))
    for person in list(lexicon.GIRLS.items) + list(lexicon.BOYS.items):
        forms[person.name].add((person.name, "name", None, "s"))
    return {word: frozenset(values) for word, values in forms.items()}


def french_nouns() -> list[Any]:
    """Every noun of the translation world (animals, toys, things, food, weather, places), as lexicon Nouns."""
    from nbutils.world import lexicon

    nouns = [k.noun for k in list(lexicon.PETS.items) + list(lexicon.GROUPS.items) + list(lexicon.TOYS.items)
             + list(lexicon.THINGS.items)]
    nouns += [noun for noun, _ in list(lexicon.FOODS.items) + list(lexicon.WEATHER_THINGS.items)
              + list(lexicon.LIKED_PLACES.items)]
    nouns += [place.noun for place in lexicon.PLACES.values()]
    unique: dict[str, Any] = {}
    for noun in nouns:
        unique.setdefault(noun.en, noun)
    return list(unique.values())


def french_adjectives() -> list[Any]:
    """Every adjective of the translation world, as lexicon Adjectives."""
    from nbutils.world import lexicon

    unique: dict[str, Any] = {}
    for a in (list(lexicon.COLORS.items) + [a for a in lexicon.THING_ADJECTIVES.items if a is not None]
              + list(lexicon.EMOTIONS.items) + list(lexicon.MORE_ADJECTIVES)):
        unique.setdefault(a.en, a)
    return list(unique.values())


def _word_error(hypothesis_word: str, reference_word: str) -> str:
    """The kind of a one-for-one substitution, read off the two words' lexicon forms."""
    forms = _french_forms()
    hyp = forms.get(hypothesis_word, forms.get(hypothesis_word.lower(), frozenset()))
    ref = forms.get(reference_word, forms.get(reference_word.lower(), frozenset()))
    if any(f[1] == "name" for f in ref) and any(f[1] == "name" for f in hyp):
        return "wrong name"
    same_lemma = [(h, r) for h in hyp for r in ref if h[:2] == r[:2]]
    if same_lemma:
        if all(r[1] == "noun" and h[3] != r[3] for h, r in same_lemma):
            return "wrong number"      # the noun itself: clé / clés says something else than the English
        return "wrong agreement"       # le / la, noirs / noires, est / sont: the form does not fit its noun
    parts = {r[1] for r in ref}
    return "wrong noun" if "noun" in parts else "wrong adjective" if "adjective" in parts else "other wrong word"


def error_kinds(hypothesis: str, reference: str, vocabulary: set[str] | None = None) -> list[str]:
    """Every difference between a translation and its reference, each with its kind (see ``ERROR_TYPES``).

    The two sentences are aligned word by word (``difflib.SequenceMatcher`` on ``french_words``): a word
    of the reference with nothing facing it is **dropped**, a word of the translation with nothing facing
    it is **added**. A word the translation replaces one for one is compared through the world's lexicon:
    the same noun in the other **number** (*clé* / *clés*: the translation says something else than the
    English), the same article, adjective or verb in another gender or number (*le* / *la*, *lourds* /
    *lourdes*, *est* / *sont*: an **agreement** error, the word does not fit its noun), another noun,
    another adjective, another word, or another name. A translated word that is not in ``vocabulary`` (e.g. every word of the
    training references) is **misspelt**. An empty list: the two are the same words.
    """
    hyp, ref = french_words(hypothesis), french_words(reference)
    kinds: list[str] = []
    if vocabulary is not None:
        kinds += ["misspelt word" for word in hyp if word not in vocabulary and word.lower() not in vocabulary]
    for op, r0, r1, h0, h1 in difflib.SequenceMatcher(None, ref, hyp, autojunk=False).get_opcodes():
        if op == "delete":
            kinds += ["word dropped"] * (r1 - r0)
        elif op == "insert":
            kinds += ["word added"] * (h1 - h0)
        elif op == "replace":
            if r1 - r0 == h1 - h0:
                kinds += [_word_error(h, r) for h, r in zip(hyp[h0:h1], ref[r0:r1])]
            else:
                kinds += ["word dropped" if r1 - r0 > h1 - h0 else "word added"] * abs((r1 - r0) - (h1 - h0))
                kinds += [_word_error(h, r) for h, r in zip(hyp[h0:h1], ref[r0:r1])]
    return kinds


def error_type(hypothesis: str, reference: str, vocabulary: set[str] | None = None) -> str | None:
    """One label for a wrong translation: the most serious of its ``error_kinds`` (order of ``ERROR_TYPES``).

    None when the translation has the reference's words (only capitals or the final full stop differ).
    """
    kinds = set(error_kinds(hypothesis, reference, vocabulary))
    return next((kind for kind in ERROR_TYPES if kind in kinds), None)


# ----------------------------------------------------------------------------------------- word order
def _find_all(pattern: str, text: str) -> list[int]:
    return [m.start() for m in re.finditer(rf"(?<![\w-]){pattern}(?![\w-])", text)]


def aligned_words(en: str, fr: str) -> list[tuple[str, int, int]]:
    """The content words of a pair, aligned through the lexicon: ``(English word, English position, French position)``.

    Content words are names, nouns, adjectives and the numbers *two* / *three*; positions are character
    offsets. An English word is aligned to the first unused occurrence of one of its French forms; a word
    without one (a mistranslation) is left out.
    """
    from nbutils.world import lexicon

    en_text, fr_text = en.lower(), fr.lower()
    candidates: list[tuple[str, set[str]]] = []
    for person in list(lexicon.GIRLS.items) + list(lexicon.BOYS.items):
        candidates.append((person.name.lower(), {person.name.lower()}))
    for noun in french_nouns():
        candidates.append((noun.en, {noun.fr, noun.fr_plural}))
        candidates.append((noun.en_plural, {noun.fr, noun.fr_plural}))
    for a in french_adjectives():
        candidates.append((a.en, {a.fr_m, a.fr_f, a.fr_m_plural, a.fr_f_plural, {"vieux": "vieil", "beau": "bel",
                                                                                  "nouveau": "nouvel"}.get(a.fr_m, a.fr_m)}))
    candidates += [("two", {"deux"}), ("three", {"trois"})]
    found: list[tuple[int, int, str, set[str]]] = []
    for word, forms in candidates:
        for start in _find_all(re.escape(word), en_text):
            found.append((start, start + len(word), word, forms))
    # keep the longest English match where two overlap ("teddy bear" rather than "bear")
    found.sort(key=lambda f: (f[0], -(f[1] - f[0])))
    kept, end = [], -1
    for start, stop, word, forms in found:
        if start >= end:
            kept.append((start, word, forms))
            end = stop
    used: set[int] = set()
    aligned = []
    for start, word, forms in kept:
        places = sorted(p for form in forms for p in _find_all(re.escape(form.lower()), fr_text) if p not in used)
        if places:
            used.add(places[0])
            aligned.append((word, start, places[0]))
    return aligned


def reordering(en: str, fr: str) -> int:
    """How much the translation reorders the content words: the number of pairs of aligned words whose order
    flips (Kendall's distance). *The red ball* -> *la balle rouge*: 1; *Tom's white rabbits* -> *les lapins
    blancs de Tom*: 3 (Tom passes both words, and *white* passes *rabbits*)."""
    positions = [fr_position for _, _, fr_position in aligned_words(en, fr)]
    return sum(a > b for i, a in enumerate(positions) for b in positions[i + 1:])
