"""The exercise checks accept the reference solutions and explain typical mistakes."""

from __future__ import annotations

import pytest

from nbutils.checks.core import CheckFailed
from nbutils.checks.tokenization import check_count_pairs, check_merge
from nbutils.tokenizers import count_pairs, merge


# --------------------------------------------------------------------------- correct solutions pass
def test_reference_solutions_pass(capsys):
    check_count_pairs(count_pairs)
    check_merge(merge)
    out = capsys.readouterr().out
    assert "✓ count_pairs" in out and "✓ merge" in out


def test_other_correct_solutions_pass():
    from collections import Counter

    def count_pairs_counter(ids):
        return Counter(zip(ids, ids[1:]))

    def merge_with_for_loop(ids, pair, new_id):
        out, skip = [], False
        for i, token in enumerate(ids):
            if skip:
                skip = False
            elif i + 1 < len(ids) and (token, ids[i + 1]) == pair:
                out.append(new_id)
                skip = True
            else:
                out.append(token)
        return out

    check_count_pairs(count_pairs_counter)
    check_merge(merge_with_for_loop)


# --------------------------------------------------------------------------- typical wrong count_pairs
def test_count_pairs_wrapping_around():
    def wraps(ids):
        counts = {}
        for pair in zip(ids, ids[1:] + ids[:1]):
            counts[pair] = counts.get(pair, 0) + 1
        return counts

    with pytest.raises(CheckFailed, match="wraps around"):
        check_count_pairs(wraps)


def test_count_pairs_stops_too_early():
    def off_by_one(ids):
        counts = {}
        for i in range(len(ids) - 2):
            counts[(ids[i], ids[i + 1])] = counts.get((ids[i], ids[i + 1]), 0) + 1
        return counts

    with pytest.raises(CheckFailed, match=r"last pair .* is missing"):
        check_count_pairs(off_by_one)


def test_count_pairs_sets_instead_of_adding():
    def always_one(ids):
        return {pair: 1 for pair in zip(ids, ids[1:])}

    with pytest.raises(CheckFailed, match="add 1"):
        check_count_pairs(always_one)


# --------------------------------------------------------------------------- typical wrong merge
def test_merge_without_skipping_the_second_id():
    def no_skip(ids, pair, new_id):
        out, i = [], 0
        while i < len(ids):
            if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
                out.append(new_id)
                i += 2 if pair[0] != pair[1] else 1  # looks right on ordinary pairs, wrong on overlaps
            else:
                out.append(ids[i])
                i += 1
        return out

    with pytest.raises(CheckFailed, match="overlapping occurrences: after merging a pair, skip both ids") as info:
        check_merge(no_skip)
    assert "[1, 1, 1]" in str(info.value)


def test_merge_dropping_the_last_id():
    def drops_last(ids, pair, new_id):
        out, i = [], 0
        while i < len(ids) - 1:
            if (ids[i], ids[i + 1]) == pair:
                out.append(new_id)
                i += 2
            else:
                out.append(ids[i])
                i += 1
        return out

    with pytest.raises(CheckFailed, match="the last id is missing"):
        check_merge(drops_last)


def test_merge_changing_its_input():
    def in_place(ids, pair, new_id):
        i = 0
        while i < len(ids) - 1:
            if (ids[i], ids[i + 1]) == pair:
                ids[i:i + 2] = [new_id]
            i += 1
        return ids

    with pytest.raises(CheckFailed, match="changed the list it was given"):
        check_merge(in_place)


def test_unwritten_and_not_a_function():
    def stub(ids, pair, new_id):
        raise NotImplementedError

    check_merge(stub)  # says "not written yet" and does not raise (see test_probability)
    with pytest.raises(TypeError, match="without calling it"):
        check_merge(merge([1, 2], (1, 2), 3))
