"""Tests of the helpers of ``nbutils.recipes.sample_quality`` and of its stored result (the command itself
takes about 10 minutes and is not run here)."""

from __future__ import annotations

import math

import pytest

from nbutils.metrics import distinct_n, wilson_interval
from nbutils.recipes.sample_quality import SETTINGS, load_results, valid_prefix_chars
from nbutils.world import default_corpus


def test_wilson_interval_of_the_valid_share():
    lo, hi = wilson_interval(12, 48)
    assert math.isclose(lo, 14.92, abs_tol=1e-2) and math.isclose(hi, 38.78, abs_tol=1e-2)
    assert wilson_interval(0, 48)[0] == 0.0 and 7 < wilson_interval(0, 48)[1] < 8


def test_distinct_n_pools_the_samples():
    assert distinct_n([[1, 2, 3, 4]]) == 1.0
    assert distinct_n([[1, 2, 3], [1, 2, 3]]) == 0.5
    assert distinct_n([[1, 2]]) == 0.0
    assert distinct_n([[1, 2, 1, 2]], n=2) == 2 / 3
    with pytest.raises(ValueError, match="n must be an int >= 1"):
        distinct_n([[1, 2]], n=0)


def test_distinct_n_against_a_hand_count():
    samples = [[5, 1, 5, 1, 5], [1, 5, 1], [7]]
    triples = [(5, 1, 5), (1, 5, 1), (5, 1, 5), (1, 5, 1)]  # written out by hand
    assert distinct_n(samples, 3) == len(set(triples)) / len(triples)


def test_valid_prefix_chars():
    story = default_corpus(0).val_stories[0].text
    assert valid_prefix_chars(story) == len(story)
    first = story.split(". ")[0] + "."
    assert valid_prefix_chars(first + " The duckseighs. Mia is busy.") == len(first)
    assert valid_prefix_chars("The duckseighs.") == 0


def test_the_stored_result_has_every_setting():
    result = load_results()
    assert result["command"] == "python -m nbutils.recipes.sample_quality"
    got = [(s["temperature"], s["top_p"]) for s in result["settings"]]
    assert got == [(s["temperature"], s["top_p"]) for s in SETTINGS]
    for s in result["settings"]:
        assert 0 <= s["valid"] <= s["finished"] <= s["samples"] == 48
        assert list(s["valid_share_95"]) == pytest.approx([b / 100 for b in wilson_interval(s["valid"], s["samples"])],
                                                          abs=1e-12)
        assert 0.0 <= s["valid_prefix_share"] <= 1.0 and 0.0 < s["distinct_3"] <= 1.0
