"""Checks for the tokenization exercises: ``count_pairs(ids)`` and ``merge(ids, pair, new_id)``.

    from nbutils.checks.tokenization import check_count_pairs, check_merge
    check_count_pairs(count_pairs)   # prints "✓ ..." or raises CheckFailed with a hint
"""

from __future__ import annotations

from typing import Any, Callable

from nbutils.checks.core import Case, run_check
from nbutils.tokenizers.bpe import count_pairs as reference_count_pairs
from nbutils.tokenizers.bpe import merge as reference_merge

__all__ = ["check_count_pairs", "check_merge"]


# --------------------------------------------------------------------------- count_pairs
_COUNT_PAIRS_CASES = [
    Case(([],), label="an empty list []"),
    Case(([7],), label="a single id [7]"),
    Case(([1, 2],), label="[1, 2]"),
    Case(([1, 2, 3, 1, 2],), label="[1, 2, 3, 1, 2] (a pair that occurs twice)"),
    Case(([1, 1, 1],), label="[1, 1, 1] (overlapping pairs)"),
    Case(([5, 6, 5],), label="[5, 6, 5] (the pairs (5, 6) and (6, 5) are different)"),
    Case((list(b"aaabdaaabac"),), label='the bytes of "aaabdaaabac"'),
]


def _diagnose_count_pairs(case: Case, got: Any, expected: dict) -> str | None:
    ids = case.args[0]
    if got is None:
        return "your function returns None: end it with `return counts`."
    if not isinstance(got, dict):
        return f"return a dict that maps each pair (a tuple) to its count, not a {type(got).__name__}."
    if any(not isinstance(key, tuple) for key in got):
        return "the keys must be tuples (a, b): a list cannot be a dict key, and a string is not a pair of ids."
    if any(not isinstance(value, int) for value in got.values()):
        return "the values must be whole numbers: how many times each pair occurs."
    if ids and (ids[-1], ids[0]) in got and (ids[-1], ids[0]) not in expected:
        return ("you counted a pair that wraps around from the last id to the first. The last id has no right "
                "neighbour: a list of n ids has n - 1 pairs.")
    if sum(got.values()) == len(ids) and len(ids) >= 1:
        return ("you counted n pairs for n ids; there are only n - 1. Loop over positions 0 .. n - 2 "
                "(for example `zip(ids, ids[1:])`).")
    reversed_expected = {(b, a): n for (a, b), n in expected.items()}
    if got == reversed_expected and got != expected:
        return "the order inside a pair matters: the pair at position i is (ids[i], ids[i + 1])."
    if expected and set(got) == set(expected) and all(v == 1 for v in got.values()):
        return "every count is 1: add 1 to the count each time you see the pair instead of setting it to 1."
    if len(ids) >= 2 and (ids[-2], ids[-1]) not in got:
        return ("the last pair (ids[-2], ids[-1]) is missing: the loop stops one position too early "
                "(use range(len(ids) - 1)).")
    if sum(got.values()) < sum(expected.values()):
        return ("some occurrences are missing. Overlapping pairs count separately: [1, 1, 1] contains (1, 1) "
                "twice, at positions 0 and 1. Count every position, do not skip after a match.")
    return None


def check_count_pairs(count_pairs: Callable[[list[int]], dict]) -> None:
    """Check your ``count_pairs(ids)``: a dict ``{(a, b): how often the neighbours a, b occur}``."""
    run_check("count_pairs", count_pairs, reference_count_pairs, _COUNT_PAIRS_CASES,
                     diagnose=_diagnose_count_pairs)


# --------------------------------------------------------------------------- merge
_MERGE_CASES = [
    Case(([], (1, 2), 99), label="an empty list"),
    Case(([1], (1, 2), 99), label="a single id [1]"),
    Case(([1, 2], (1, 2), 99), label="[1, 2] with pair (1, 2)"),
    Case(([1, 2, 3, 1, 2], (1, 2), 99), label="[1, 2, 3, 1, 2] with pair (1, 2) (two occurrences)"),
    Case(([3, 4, 1, 2], (1, 2), 99), label="[3, 4, 1, 2] with pair (1, 2) (the pair at the end)"),
    Case(([1, 2, 5], (1, 2), 99), label="[1, 2, 5] with pair (1, 2) (the pair at the start)"),
    Case(([2, 1, 5], (1, 2), 99), label="[2, 1, 5] with pair (1, 2) (only the reversed pair occurs)"),
    Case(([1, 1, 1], (1, 1), 99), label="[1, 1, 1] with pair (1, 1) (overlapping occurrences)"),
    Case(([1, 1, 1, 1], (1, 1), 99), label="[1, 1, 1, 1] with pair (1, 1)"),
    Case(([5, 6, 7], (1, 2), 99), label="[5, 6, 7] with pair (1, 2) (the pair does not occur)"),
]


class _ChangedInput:
    """What the check sees when the student's function modified the list it was given."""

    def __init__(self, result: Any, changed_to: list) -> None:
        self.result, self.changed_to = result, changed_to

    def __eq__(self, other: object) -> bool:
        return False

    def __repr__(self) -> str:
        return f"{self.result!r} (and your function changed the input list to {self.changed_to!r})"


def _without_side_effects(merge: Callable) -> Callable:
    """Call the student's merge on a copy of the list and notice if the copy was changed."""
    def call(ids: list[int], pair: tuple[int, int], new_id: int) -> Any:
        copy = list(ids)
        result = merge(copy, pair, new_id)
        return result if copy == ids else _ChangedInput(result, copy)
    return call


def _diagnose_merge(case: Case, got: Any, expected: list[int]) -> str | None:
    ids, pair, new_id = case.args
    if isinstance(got, _ChangedInput):
        return ("your function changed the list it was given. Build a new list (out = [] ... out.append(...)) "
                "and return it; the caller still needs the original ids.")
    if got is None:
        return "your function returns None: end it with `return` and the new list."
    if not isinstance(got, list):
        return f"return a list of ids, not a {type(got).__name__}."
    if pair[0] == pair[1] and got.count(new_id) > expected.count(new_id):
        return ("overlapping occurrences: after merging a pair, skip both ids (advance by 2), so that "
                "[1, 1, 1] becomes [X, 1], not [X, X, 1].")
    if len(got) == len(expected) - 1 and got == expected[:-1]:
        return ("the last id is missing. When the loop reaches the final id there is no pair left to test, "
                "but the id itself must still be copied to the output.")
    if len(got) > len(expected) and new_id in got:
        return ("after writing new_id, skip both ids of the pair (advance by 2, not 1): the pair's second id "
                "must not be copied as well.")
    if got == list(ids) and expected != list(ids):
        return "nothing was merged: compare ids[i] with pair[0] AND ids[i + 1] with pair[1]."
    if got.count(new_id) > expected.count(new_id):
        return f"the order inside the pair matters: only ids[i] == {pair[0]} followed by {pair[1]} matches."
    if len(got) == len(expected) and got[::-1] == expected[::-1] and got != expected:
        return "scan from left to right: merge the leftmost occurrence first."
    return None


def check_merge(merge: Callable[[list[int], tuple[int, int], int], list[int]]) -> None:
    """Check your ``merge(ids, pair, new_id)``: a new list with every occurrence of ``pair`` replaced."""
    student = _without_side_effects(merge) if callable(merge) else merge  # run_check explains a non-function
    run_check("merge", student, reference_merge, _MERGE_CASES,
                     diagnose=_diagnose_merge)
