import statistics

import pytest

from coretune_mm.evaluation import paired_difference


def test_against_statistics_module():
    base = [90.0, 91.5, 89.0, 92.0, 90.5]
    variant = [91.0, 91.0, 90.5, 93.5, 90.0]
    diffs = [v - b for b, v in zip(base, variant)]
    got = paired_difference(base, variant)
    assert got['n'] == 5
    assert got['mean'] == pytest.approx(statistics.mean(diffs))
    assert got['se'] == pytest.approx(statistics.stdev(diffs) / 5**0.5)


def test_one_seed_and_bad_input():
    got = paired_difference([1.0], [3.0])
    assert got['mean'] == 2.0 and got['se'] != got['se']  # NaN
    with pytest.raises(ValueError, match='equal length'):
        paired_difference([1.0, 2.0], [1.0])
