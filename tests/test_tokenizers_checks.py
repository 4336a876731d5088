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


# --------------------------------------------------------------------------- bpe_encode
from nbutils.checks.tokenization import check_bpe_encode, reference_bpe_encode  # noqa: E402
from nbutils.tokenizers import BPETokenizer  # noqa: E402

from hints import expect_hint  # noqa: E402


def _encode_correctly(text, merges):
    ids = list(text.encode("utf-8"))
    for pair, new_id in merges:  # replaying every merge once, in learned order, is also correct
        ids = merge(ids, pair, new_id)
    return ids


def test_bpe_encode_correct_solutions_pass(capsys):
    check_bpe_encode(reference_bpe_encode)
    check_bpe_encode(_encode_correctly)
    check_bpe_encode(lambda text, merges: BPETokenizer(merges=merges, pattern=None).encode(text))
    assert capsys.readouterr().out.count("✓ bpe_encode") == 3


def test_bpe_encode_reference_agrees_with_the_tokenizer():
    text = "the cat and the hat and the bat"
    tok = BPETokenizer.train(text, vocab_size=256 + 6, pattern=None)
    for new_text in ("the cat sat at the mat", " at", "bath", "é the"):
        assert reference_bpe_encode(new_text, tok.merges) == tok.encode(new_text)


def _left_to_right(text, merges):
    new_ids = dict(merges)
    ids, i = list(text.encode("utf-8")), 0
    while i < len(ids) - 1:
        if (ids[i], ids[i + 1]) in new_ids:
            ids[i:i + 2] = [new_ids[(ids[i], ids[i + 1])]]
            i = max(i - 1, 0)
        else:
            i += 1
    return ids


def _by_frequency(text, merges):
    new_ids = dict(merges)
    ids = list(text.encode("utf-8"))
    while True:
        counts = {p: n for p, n in count_pairs(ids).items() if p in new_ids}
        if not counts:
            return ids
        best = max(counts, key=counts.get)
        ids = merge(ids, best, new_ids[best])


def _latest_first(text, merges):
    return _encode_correctly(text, list(reversed(merges)))


def _one_merge(text, merges):
    rank = {pair: r for r, (pair, _) in enumerate(merges)}
    ids = list(text.encode("utf-8"))
    known = [p for p in zip(ids, ids[1:]) if p in rank]
    if known:
        pair = min(known, key=rank.get)
        ids = merge(ids, pair, dict(merges)[pair])
    return ids


def _code_points(text, merges):
    ids = [ord(c) for c in text]
    for pair, new_id in merges:
        ids = merge(ids, pair, new_id)
    return ids


def test_bpe_encode_left_to_right_is_explained():
    message = expect_hint(check_bpe_encode, _left_to_right, "leftmost pair", "LOWEST rank", '"cabab"')
    assert "order" in message


def test_bpe_encode_by_frequency_is_explained():
    expect_hint(check_bpe_encode, _by_frequency, "most frequent in THIS text", "lowest rank", '"abcbc"')


def test_bpe_encode_latest_merge_first_is_explained():
    expect_hint(check_bpe_encode, _latest_first, "most recent merge first")


def test_bpe_encode_single_merge_is_explained():
    expect_hint(check_bpe_encode, _one_merge, "stopped after one merge")


def test_bpe_encode_code_points_are_explained():
    expect_hint(check_bpe_encode, _code_points, "UTF-8", "[195, 169]")


def test_bpe_encode_wrong_types_are_explained():
    expect_hint(check_bpe_encode, lambda text, merges: text.encode("utf-8"), "not bytes")
    expect_hint(check_bpe_encode, lambda text, merges: None, "returns None")


def test_bpe_encode_not_written_yet(capsys):
    def bpe_encode(text, merges):
        """Encode text with merges."""
        raise NotImplementedError

    check_bpe_encode(bpe_encode)
    assert "not written yet" in capsys.readouterr().out


def test_unwritten_merge_is_replaced_in_the_notebook_namespace(capsys):
    namespace = {"NotImplementedError": NotImplementedError}
    exec("def merge(ids, pair, new_id):\n    raise NotImplementedError\n", namespace)
    check_merge(namespace["merge"])
    assert "not written yet" in capsys.readouterr().out
    assert namespace["merge"] is merge  # later cells (count_pairs and merge agree, bpe_encode) keep working
