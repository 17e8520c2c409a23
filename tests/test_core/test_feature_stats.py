"""feature_space_stats against a loop over samples and class pairs."""
import math

import pytest
import torch

from coretune_mm.core import feature_space_stats


def slow_stats(features, labels):
    unit = [f / f.norm() for f in features.double()]
    classes = sorted(set(labels.tolist()))
    means = {}
    for c in classes:
        total = sum(u for u, y in zip(unit, labels.tolist()) if y == c)
        means[c] = total / total.norm()
    intra = sum(1 - float(u @ means[y])
                for u, y in zip(unit, labels.tolist())) / len(unit)
    between = [
        1 - float(means[a] @ means[b]) for i, a in enumerate(classes)
        for b in classes[i + 1:]
    ]
    inter_mean = sum(between) / len(between)
    return dict(
        intra=intra,
        inter_mean=inter_mean,
        inter_min=min(between),
        ratio=intra / inter_mean)


def test_matches_the_slow_definition():
    torch.manual_seed(0)
    features = torch.randn(40, 8)
    labels = torch.randint(0, 4, (40, ))
    got = feature_space_stats(features, labels)
    expected = slow_stats(features, labels)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key


def test_one_class_gives_nan_separation():
    stats = feature_space_stats(torch.randn(5, 3), torch.zeros(5).long())
    assert stats['intra'] >= 0
    assert all(
        math.isnan(stats[k]) for k in ('inter_mean', 'inter_min', 'ratio'))


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match='features'):
        feature_space_stats(torch.randn(5), torch.zeros(5).long())


def test_works_where_its_input_lives():
    """Nothing is allocated on the default device: with another default
    (as with CUDA inputs and a CPU default) the result is the same."""
    torch.manual_seed(0)
    features, labels = torch.randn(20, 4), torch.randint(0, 3, (20, ))
    expected = feature_space_stats(features, labels)
    with torch.device('meta'):
        got = feature_space_stats(features, labels)
    assert got == pytest.approx(expected)
