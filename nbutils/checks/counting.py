"""Checks for notebook 00: counting which word follows a prefix."""

from __future__ import annotations

from collections import Counter

from nbutils.checks.core import Case, run_check
from nbutils.ngrams import next_word_counts

__all__ = ["check_next_word_counts"]


_TEXT = ("The cat is on the roof. The cat is on the mat. The dog is on the roof.\n"
         "The cat is on the roof. Where is the cat? the cat is on the box.")


def _diagnose(case: Case, got, expected) -> str | None:
    if not isinstance(got, dict):
        return "return a Counter (or dict) that maps each next word to how often it follows the prefix"
    if any(not word.isalpha() for word in got):
        return ("some keys contain punctuation or spaces, e.g. 'roof.': keep only the letters of the next word")
    if sum(got.values()) > sum(expected.values()):
        return ("you counted more matches than there are: is the match case-sensitive, and does the prefix have to be "
                "followed by a space?")
    if sum(got.values()) < sum(expected.values()):
        return "you missed some matches: look at every occurrence of the prefix, also at the end of a line"
    return None


def check_next_word_counts(fn) -> None:
    """Check ``fn(text, prefix) -> Counter`` against the reference ``next_word_counts``."""
    cases = [
        Case((_TEXT, "The cat is on the"), label="'The cat is on the' in a five-sentence text"),
        Case((_TEXT, "on the"), label="'on the' (shorter prefix, more matches)"),
        Case((_TEXT, "Where is the"), label="'Where is the' (the word is followed by '?')"),
        Case(("The cat sat.", "The dog"), label="a prefix that never occurs (expect an empty Counter)"),
    ]
    return run_check("next_word_counts", fn, next_word_counts, cases,
                     compare=lambda got, expected: isinstance(got, dict) and Counter(got) == expected,
                     diagnose=_diagnose)
