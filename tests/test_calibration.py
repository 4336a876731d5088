"""Calibration bins and the expected calibration error, against hand-computed values and planted truth."""

import math
import random

import pytest

from nbutils.calibration import expected_calibration_error, reliability_bins


def test_bins_by_hand():
    conf = [0.05, 0.15, 0.95, 1.0, 0.92, 0.55]
    right = [False, True, True, True, False, True]
    bins = reliability_bins(conf, right, n_bins=10)
    assert [b.count for b in bins] == [1, 1, 0, 0, 0, 1, 0, 0, 0, 3]   # 1.0 goes into the last bin
    last = bins[-1]
    assert last.confidence == pytest.approx((0.95 + 1.0 + 0.92) / 3) and last.accuracy == pytest.approx(2 / 3)
    assert math.isnan(bins[2].accuracy)
    expected = (1 / 6) * 0.05 + (1 / 6) * 0.85 + (1 / 6) * 0.45 + (3 / 6) * abs(2 / 3 - 2.87 / 3)
    assert expected_calibration_error(conf, right) == pytest.approx(expected)


def test_planted_calibration():
    """Answers right with exactly their confidence: ECE near 0; always right at confidence 0.6: ECE 0.4."""
    rng = random.Random(0)
    conf = [rng.random() for _ in range(20000)]
    right = [rng.random() < c for c in conf]
    assert expected_calibration_error(conf, right) < 0.02
    assert expected_calibration_error([0.6] * 50, [True] * 50) == pytest.approx(0.4)


def test_bad_input():
    with pytest.raises(ValueError, match="probabilities"):
        reliability_bins([1.2], [True])
    with pytest.raises(ValueError, match="confidences but"):
        reliability_bins([0.5, 0.5], [True])
