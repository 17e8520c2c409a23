"""Paired-seed comparison of a variant against a baseline."""
import math
from typing import Dict, Sequence

__all__ = ['paired_difference']


def paired_difference(baseline: Sequence[float],
                      variant: Sequence[float]) -> Dict[str, float]:
    """Mean and standard error of ``variant - baseline``, seed by seed.

    Both sequences hold one value per seed, in the same seed order (the
    runs of one seed share data order and initialisation).

    Args:
        baseline (Sequence[float]): e.g. CE's metric per seed.
        variant (Sequence[float]): the variant's metric per seed.

    Returns:
        dict: ``mean``, ``se`` (sample standard deviation / sqrt(n); NaN for
        one seed) and ``n``.
    """
    if len(baseline) != len(variant) or not baseline:
        raise ValueError('paired_difference: expected two non-empty '
                         'sequences of equal length (one value per seed), '
                         f'got {len(baseline)} and {len(variant)}')
    diffs = [v - b for b, v in zip(baseline, variant)]
    n = len(diffs)
    mean = sum(diffs) / n
    if n < 2:
        return dict(mean=mean, se=float('nan'), n=n)
    var = sum((d - mean)**2 for d in diffs) / (n - 1)
    return dict(mean=mean, se=math.sqrt(var / n), n=n)
