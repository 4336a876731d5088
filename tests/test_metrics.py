"""chrF and exact match: hand-computed examples, published sacreBLEU scores, and an independent reference."""

from __future__ import annotations

import random

import pytest

from nbutils.metrics import (
    NgramCounts, char_ngrams, chrf, chrf_from_statistics, chrf_precision_recall, chrf_statistics, exact_match,
    sentence_chrf,
)


# ------------------------------------------------------------------------- an independent reference
def reference_chrf(hypotheses: list[str], references: list[str], n: int = 6, beta: float = 2.0) -> float:
    """chrF written differently: n-grams as lists, matches found by removing each matched n-gram from a pool."""
    totals = [[0, 0, 0] for _ in range(n)]
    for hyp, ref in zip(hypotheses, references):
        hyp, ref = "".join(hyp.split()), "".join(ref.split())
        for order in range(1, n + 1):
            hyp_grams = [hyp[i:i + order] for i in range(len(hyp) - order + 1)]
            pool = [ref[i:i + order] for i in range(len(ref) - order + 1)]
            totals[order - 1][0] += len(hyp_grams)
            totals[order - 1][1] += len(pool)
            for gram in hyp_grams:
                if gram in pool:
                    pool.remove(gram)
                    totals[order - 1][2] += 1
    precisions = [m / h for h, r, m in totals if h and r]
    recalls = [m / r for h, r, m in totals if h and r]
    if not precisions:
        return 0.0
    p, r = sum(precisions) / len(precisions), sum(recalls) / len(recalls)
    return 0.0 if p + r == 0 else 100 * (1 + beta**2) * p * r / (beta**2 * p + r)


# ------------------------------------------------------------------------- n-grams
def test_char_ngrams_remove_spaces_by_default():
    assert char_ngrams("le toit", 2) == {"le": 1, "et": 1, "to": 1, "oi": 1, "it": 1}
    assert char_ngrams("le toit", 2, whitespace=True)["e "] == 1
    assert char_ngrams("aaa", 2) == {"aa": 2}
    assert char_ngrams("ab", 3) == {}


def test_statistics_clip_counts():
    stats = chrf_statistics("aaaa", "aab", n=2)
    assert stats[0] == NgramCounts(hypothesis=4, reference=3, matches=2)
    assert stats[1] == NgramCounts(hypothesis=3, reference=2, matches=1)


# ------------------------------------------------------------------------- hand-computed examples
def test_hand_computed_two_orders():
    # 'ab' vs 'abc', n=2: P1 = 2/2, R1 = 2/3; P2 = 1/1, R2 = 1/2; P = 1, R = 7/12
    # F2 = 5 * 1 * 7/12 / (4 * 1 + 7/12) = 35/55 = 7/11
    assert chrf("ab", "abc", n=2) == pytest.approx(700 / 11)
    assert chrf_precision_recall(chrf_statistics("ab", "abc", n=2)) == pytest.approx((1.0, 7 / 12))
    # 'abc' vs 'abd', n=2, beta=1: P = R = (2/3 + 1/2) / 2 = 7/12
    assert chrf("abc", "abd", n=2, beta=1) == pytest.approx(100 * 7 / 12)


def test_french_example_by_hand():
    # 'La chat' vs 'Le chat' (spaces removed: 'Lachat' / 'Lechat'), n=2:
    # 1-grams: 5 of 6 shared each way; 2-grams: 'ch','ha','at' shared, 3 of 5 each way
    expected = (5 / 6 + 3 / 5) / 2
    assert chrf_precision_recall(chrf_statistics("La chat", "Le chat", n=2)) == pytest.approx((expected, expected))
    assert chrf("La chat", "Le chat", n=2) == pytest.approx(100 * expected)


# ------------------------------------------------------------------------- published sacreBLEU scores
def test_matches_published_sacrebleu_sentence_score():
    # sacreBLEU's CHRF() (char order 6, word order 0, beta 2) as quoted in its metric card: 61.576379378113785
    hyp = "The relationship between Obama and Netanyahu is not exactly friendly."
    ref = "The ties between Obama and Netanyahu are not particularly friendly."
    assert chrf(hyp, ref) == pytest.approx(61.576379378113785, abs=1e-9)


def test_matches_published_sacrebleu_corpus_score():
    hyps = ["The relationship between cats and dogs is not exactly friendly.",
            "a good bookshop is just a genteel black hole that knows how to read."]
    refs = ["The relationship between dogs and cats is not exactly friendly.",
            "A good bookshop is just a genteel Black Hole that knows how to read."]
    assert chrf(hyps, refs) == pytest.approx(84.64214891738334, abs=1e-9)


# ------------------------------------------------------------------------- properties
def test_identical_is_100_and_disjoint_is_0():
    assert chrf("Le chat est sur le toit.", "Le chat est sur le toit.") == pytest.approx(100.0)
    assert chrf("abc", "xyz") == 0.0
    assert chrf("", "Le chat.") == 0.0
    assert chrf(["abc", "de"], ["abc", "de"]) == pytest.approx(100.0)


def test_spaces_are_ignored_unless_asked():
    assert chrf("Le chat", "Lechat") == pytest.approx(100.0)
    assert chrf("Le chat", "Lechat", whitespace=True) < 100.0


def test_beta_weighs_recall():
    # a hypothesis that is a part of the reference: precision 1, recall < 1
    short, full = "Le chat", "Le chat est sur le toit."
    assert chrf(short, full, beta=1) > chrf(short, full, beta=2) > chrf(short, full, beta=3)
    p, r = chrf_precision_recall(chrf_statistics(short, full))
    assert chrf(short, full, beta=0) == pytest.approx(100 * p)


def test_symmetric_when_beta_is_one():
    forward, backward = chrf("les toits", "le toit", beta=1), chrf("le toit", "les toits", beta=1)
    assert forward == pytest.approx(backward)


def test_against_independent_reference_on_random_sentences():
    rng = random.Random(0)
    words = ["le", "la", "chat", "chats", "noir", "noire", "est", "sont", "sur", "toit", "l'arbre", "aime", "pas"]
    hyps = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 7))) for _ in range(40)]
    refs = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 7))) for _ in range(40)]
    for h, r in zip(hyps, refs):
        assert chrf(h, r) == pytest.approx(reference_chrf([h], [r]), abs=1e-9)
        assert chrf(h, r, n=3, beta=1) == pytest.approx(reference_chrf([h], [r], n=3, beta=1), abs=1e-9)
    assert chrf(hyps, refs) == pytest.approx(reference_chrf(hyps, refs), abs=1e-9)


def test_corpus_score_adds_counts_not_scores():
    hyps, refs = ["Le chat.", "Les oiseaux sont dans l'arbre."], ["Le chien.", "Les oiseaux sont dans l'arbre."]
    scores = sentence_chrf(hyps, refs)
    assert scores == [chrf(h, r) for h, r in zip(hyps, refs)]
    assert chrf(hyps, refs) != pytest.approx(sum(scores) / 2)
    summed = [a + b for a, b in zip(chrf_statistics(hyps[0], refs[0]), chrf_statistics(hyps[1], refs[1]))]
    assert chrf(hyps, refs) == pytest.approx(chrf_from_statistics(summed))


# ------------------------------------------------------------------------- exact match
def test_exact_match():
    assert exact_match("Le chat.", "Le chat.") == 100.0
    assert exact_match(" Le chat. ", "Le chat.") == 100.0
    assert exact_match("le chat.", "Le chat.") == 0.0
    assert exact_match(["a", "b", "c", "d"], ["a", "x", "c", "y"]) == 50.0


# ------------------------------------------------------------------------- bad input
def test_bad_input_is_explained():
    with pytest.raises(TypeError, match="two strings"):
        chrf("a", ["a"])
    with pytest.raises(ValueError, match="2 hypotheses but 1 references"):
        chrf(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="empty"):
        chrf([], [])
    with pytest.raises(ValueError, match=">= 1"):
        chrf("a", "a", n=0)
    with pytest.raises(ValueError, match="beta"):
        chrf("a", "a", beta=-1)
    with pytest.raises(TypeError, match="hypothesis 1 must be a str"):
        exact_match(["a", 3], ["a", "b"])
    with pytest.raises(TypeError, match="text must be a str"):
        char_ngrams(None, 2)


# ------------------------------------------------------------------------- intervals
def test_wilson_interval():
    from nbutils.metrics import wilson_interval
    low, high = wilson_interval(81, 100)
    assert abs(low - 72.2) < 0.1 and abs(high - 87.5) < 0.1   # published: 0.7224 .. 0.8752 for 81/100
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 100.0
    assert wilson_interval(0, 10)[1] > 0.0                      # unlike the normal approximation
    with pytest.raises(ValueError):
        wilson_interval(3, 2)
    with pytest.raises(TypeError):
        wilson_interval(1.5, 2)


def test_mean_interval():
    from nbutils.metrics import mean_interval
    mean, low, high = mean_interval([80.0, 81.0, 82.0])
    assert mean == 81.0 and abs(high - mean - 4.303 / 3 ** 0.5) < 1e-9 and abs(mean - low - (high - mean)) < 1e-12
    assert mean_interval([5, 5]) == (5.0, 5.0, 5.0)
    with pytest.raises(ValueError):
        mean_interval([1.0])
