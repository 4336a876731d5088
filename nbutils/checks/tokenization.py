"""Checks for the tokenization exercises: ``count_pairs(ids)``, ``merge(ids, pair, new_id)`` and
``bpe_encode(text, merges)``.

    from nbutils.checks.tokenization import check_count_pairs, check_merge
    check_count_pairs(count_pairs)   # prints "✓ ..." or raises CheckFailed with a hint
"""

from __future__ import annotations

from typing import Any, Callable

from nbutils.checks.core import Case, not_written_yet, run_check
from nbutils.tokenizers.bpe import count_pairs as reference_count_pairs
from nbutils.tokenizers.bpe import merge as reference_merge

__all__ = ["check_count_pairs", "check_merge", "check_bpe_encode"]


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
    if callable(merge):
        # an unwritten stub: say so and put the course's merge in the notebook (the wrapper below could not)
        try:
            merge([1, 2], (1, 2), 3)
        except NotImplementedError:
            not_written_yet("merge", merge, reference_merge)
            return
        except Exception:  # run_check reports the crash together with the input that caused it
            pass
    student = _without_side_effects(merge) if callable(merge) else merge  # run_check explains a non-function
    run_check("merge", student, reference_merge, _MERGE_CASES,
                     diagnose=_diagnose_merge)


# --------------------------------------------------------------------------- bpe_encode
Merges = list  # [((a, b), new_id), ...] in the order they were learned: index 0 is rank 0


def reference_bpe_encode(text: str, merges: Merges) -> list[int]:
    """Encode ``text`` with learned BPE ``merges`` (no pre-split): start from its UTF-8 bytes, then
    repeatedly merge the neighbouring pair whose merge was learned first (lowest rank), until no
    neighbouring pair was ever merged."""
    return _merge_in_rank_order(list(text.encode("utf-8")), merges)


def _merge_in_rank_order(ids: list[int], merges: Merges) -> list[int]:
    """Merge the lowest-rank neighbouring pair of ``ids`` until no learned pair is left."""
    rank = {tuple(pair): r for r, (pair, _) in enumerate(merges)}
    new_ids = {tuple(pair): new_id for pair, new_id in merges}
    while len(ids) >= 2:
        pair = min(zip(ids, ids[1:]), key=lambda p: rank.get(p, len(rank)))
        if pair not in rank:
            break
        ids = reference_merge(ids, pair, new_ids[pair])
    return ids


# Typical wrong encoders: the diagnosis runs them on the failing case and names the one the student wrote.
def _left_to_right(text: str, merges: Merges) -> list[int]:
    """Repeatedly merge the LEFTMOST neighbouring pair that has any merge, whatever its rank."""
    new_ids = {tuple(pair): new_id for pair, new_id in merges}
    ids = list(text.encode("utf-8"))
    while True:
        i = next((i for i in range(len(ids) - 1) if (ids[i], ids[i + 1]) in new_ids), None)
        if i is None:
            return ids
        ids[i:i + 2] = [new_ids[(ids[i], ids[i + 1])]]


def _by_frequency(text: str, merges: Merges) -> list[int]:
    """Repeatedly merge the mergeable pair that is most frequent in the text (ties: lower rank)."""
    rank = {tuple(pair): r for r, (pair, _) in enumerate(merges)}
    new_ids = {tuple(pair): new_id for pair, new_id in merges}
    ids = list(text.encode("utf-8"))
    while True:
        counts = reference_count_pairs(ids)
        known = [p for p in counts if p in rank]
        if not known:
            return ids
        pair = min(known, key=lambda p: (-counts[p], rank[p]))
        ids = reference_merge(ids, pair, new_ids[pair])


def _highest_rank_first(text: str, merges: Merges) -> list[int]:
    """Repeatedly merge the mergeable pair learned LAST."""
    return reference_bpe_encode(text, list(reversed(merges)))


def _each_merge_once_newest_first(text: str, merges: Merges) -> list[int]:
    """Replay every merge once, from the LAST learned to the first."""
    ids = list(text.encode("utf-8"))
    for pair, new_id in reversed(merges):
        ids = reference_merge(ids, tuple(pair), new_id)
    return ids


def _one_merge_only(text: str, merges: Merges) -> list[int]:
    """Merge the lowest-rank pair once and stop."""
    rank = {tuple(pair): r for r, (pair, _) in enumerate(merges)}
    new_ids = {tuple(pair): new_id for pair, new_id in merges}
    ids = list(text.encode("utf-8"))
    known = [p for p in zip(ids, ids[1:]) if p in rank]
    if not known:
        return ids
    pair = min(known, key=rank.get)
    return reference_merge(ids, pair, new_ids[pair])


def _characters_not_bytes(text: str, merges: Merges) -> list[int]:
    """Start from ord(character) instead of the UTF-8 bytes."""
    return _merge_in_rank_order([ord(c) for c in text], merges)


_A, _B, _C = 97, 98, 99  # the bytes of "a", "b", "c"
# the six merges learned by hand on "the cat and the hat and the bat" in notebook 01
_TINY_MERGES = [((97, 116), 256), ((101, 32), 257), ((104, 257), 258), ((116, 258), 259), ((32, 97), 260),
                ((32, 259), 261)]
_BPE_ENCODE_CASES = [
    Case(("", _TINY_MERGES), label='the empty text ""'),
    Case(("a", _TINY_MERGES), label='"a" (one byte, nothing to merge)'),
    Case(("abc", []), label='"abc" with no merges at all'),
    Case(("é", _TINY_MERGES), label='"é" (one character, two UTF-8 bytes)'),
    Case(("the hat", _TINY_MERGES), label='"the hat" with the six merges of the tiny text (merges build on merges)'),
    Case(("abcbc", [((_A, _B), 256), ((_B, _C), 257)]),
         label='"abcbc" with merges [ab -> 256, bc -> 257] (bc is more frequent here, but ab was learned first)'),
    Case(("cabab", [((_A, _B), 256), ((_C, _A), 257)]),
         label='"cabab" with merges [ab -> 256, ca -> 257] (ca comes first from the left, but ab was learned first)'),
    Case((" at", _TINY_MERGES),
         label='" at" with the six merges of the tiny text (" a" is further left, but "at" was learned first)'),
    Case(("the cat sat at the mat", _TINY_MERGES), label='"the cat sat at the mat" with the six merges'),
    Case(("aaaa", [((_A, _A), 256), ((256, 256), 257)]), label='"aaaa" with merges [aa -> 256, (256, 256) -> 257]'),
]


def _diagnose_bpe_encode(case: Case, got: Any, expected: list[int]) -> str | None:
    text, merges = case.args
    if got is None:
        return "your function returns None: end it with `return ids`."
    if isinstance(got, (bytes, str)):
        return f"return a list of ids (ints), not {type(got).__name__}: for example list(text.encode('utf-8')) to start."
    if not isinstance(got, list):
        return f"return a list of ids, not a {type(got).__name__}."
    wrong_ways = [
        (_characters_not_bytes, "you started from the characters' code points (ord); BPE starts from the UTF-8 "
                                "bytes: list(text.encode('utf-8')), so 'é' is the two ids [195, 169]."),
        (_left_to_right, "you merged the leftmost pair that has a merge, whatever its rank. BPE must apply the "
                         "merges in the order they were learned: among the neighbouring pairs, always merge the "
                         "one with the LOWEST rank (earliest in `merges`) first, wherever it is. Left to right "
                         "cuts the text differently from how training cut it."),
        (_by_frequency, "you merged the pair that is most frequent in THIS text. Frequency decided the merges "
                        "during training only; encoding replays them in their learned order: always merge the "
                        "pair with the lowest rank (earliest in `merges`), however often it occurs here."),
        (_highest_rank_first, "you applied the most recent merge first. Rank 0 (the first merge learned) must be "
                              "applied first: later merges are built from the ids earlier merges create."),
        (_each_merge_once_newest_first, "you applied the most recent merge first. Rank 0 (the first merge "
                                        "learned) must be applied first: later merges are built from the ids "
                                        "earlier merges create."),
        (_one_merge_only, "you stopped after one merge. Repeat: after each merge look at the new neighbouring "
                          "pairs again, until none of them has a merge."),
    ]
    for wrong, hint in wrong_ways:
        try:
            if got == wrong(text, merges) and got != expected:
                return hint
        except Exception:  # a wrong way that cannot run on this case does not explain it
            continue
    if len(got) > len(expected):
        return ("some merges were not applied: keep going until no neighbouring pair of the CURRENT ids has a "
                "merge (new ids make new pairs, e.g. (116, 258) after 'he ' became 258).")
    return None


def check_bpe_encode(bpe_encode: Callable[[str, list], list[int]]) -> None:
    """Check your ``bpe_encode(text, merges)``: UTF-8 bytes, then merges applied lowest rank first."""
    run_check("bpe_encode", bpe_encode, reference_bpe_encode, _BPE_ENCODE_CASES,
              diagnose=_diagnose_bpe_encode)
