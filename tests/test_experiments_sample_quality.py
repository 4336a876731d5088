"""Tests of the helpers of ``nbutils.experiments.sample_quality`` and of its stored result (the command itself
takes about 10 minutes and is not run here)."""

from __future__ import annotations

import math

from nbutils.experiments.sample_quality import SETTINGS, distinct_3, load_results, valid_prefix_chars, wilson
from nbutils.world import default_corpus


def test_wilson_interval():
    lo, hi = wilson(12, 48)
    assert math.isclose(lo, 0.1492, abs_tol=1e-4) and math.isclose(hi, 0.3878, abs_tol=1e-4)
    assert wilson(0, 48)[0] == 0.0 and 0.07 < wilson(0, 48)[1] < 0.08
    assert wilson(0, 0) == (0.0, 1.0)


def test_distinct_3_pools_the_samples():
    assert distinct_3([[1, 2, 3, 4]]) == 1.0
    assert distinct_3([[1, 2, 3], [1, 2, 3]]) == 0.5
    assert distinct_3([[1, 2]]) == 0.0


def test_valid_prefix_chars():
    story = default_corpus(0).val_stories[0].text
    assert valid_prefix_chars(story) == len(story)
    first = story.split(". ")[0] + "."
    assert valid_prefix_chars(first + " The duckseighs. Mia is busy.") == len(first)
    assert valid_prefix_chars("The duckseighs.") == 0


def test_the_stored_result_has_every_setting():
    result = load_results()
    assert result["command"] == "python -m nbutils.experiments.sample_quality"
    got = [(s["temperature"], s["top_p"]) for s in result["settings"]]
    assert got == [(s["temperature"], s["top_p"]) for s in SETTINGS]
    for s in result["settings"]:
        assert 0 <= s["valid"] <= s["finished"] <= s["samples"] == 48
        assert list(s["valid_share_95"]) == list(wilson(s["valid"], s["samples"]))
        assert 0.0 <= s["valid_prefix_share"] <= 1.0 and 0.0 < s["distinct_3"] <= 1.0
