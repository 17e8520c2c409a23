"""Paired-seed comparison of a variant against a baseline."""
import math
from typing import Dict, List, Sequence

__all__ = ['paired_difference', 'paired_table', 'paired_plot']


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


Runs = Dict[str, Dict[str, List[Dict[str, float]]]]


def paired_table(results: Runs, baseline: str, split: str,
                 metrics: Sequence[str]) -> str:
    """Markdown: the baseline's mean, then each run's paired difference to
    it (mean +/- standard error over seeds) for every metric.

    Args:
        results (dict): ``{run: {split: [metrics of each seed]}}``, seeds in
            the same order for every run.
        baseline (str): The run the others are compared with.
        split (str): Which split to report.
        metrics (Sequence[str]): Metric keys.
    """
    base = results[baseline][split]
    lines = [
        '| run | ' + ' | '.join(metrics) + ' |',
        '|' + ' --- |' * (len(metrics) + 1), f'| {baseline} (mean) | ' +
        ' | '.join(f'{sum(r[m] for r in base) / len(base):.2f}'
                   for m in metrics) + ' |'
    ]
    for name, by_split in results.items():
        if name == baseline:
            continue
        cells = []
        for metric in metrics:
            diff = paired_difference([r[metric] for r in base],
                                     [r[metric] for r in by_split[split]])
            cells.append(f'{diff["mean"]:+.2f} +/- {diff["se"]:.2f}')
        lines.append(f'| {name} minus {baseline} | ' + ' | '.join(cells) +
                     ' |')
    return '\n'.join(lines) + \
        f'\n\n({len(base)} paired seeds, {split} split)'


def paired_plot(results: Runs, baseline: str, splits: Sequence[str],
                metrics: Sequence[str], path: str) -> None:
    """Per-seed paired differences (dots) and their mean +/- s.e. (bars),
    one panel per split, written to ``path``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    runs = [n for n in results if n != baseline]
    fig, axes = plt.subplots(
        1, len(splits), figsize=(7 * len(splits), 4), dpi=100, squeeze=False)
    width = 0.8 / max(len(runs), 1)
    for ax, split in zip(axes[0], splits):
        base = results[baseline][split]
        for i, name in enumerate(runs):
            for j, metric in enumerate(metrics):
                x = j + (i - (len(runs) - 1) / 2) * width
                values = [r[metric] for r in results[name][split]]
                reference = [r[metric] for r in base]
                stats = paired_difference(reference, values)
                ax.bar(
                    x,
                    stats['mean'],
                    width,
                    yerr=stats['se'],
                    color=f'C{i}',
                    alpha=0.6,
                    label=name if j == 0 else None)
                ax.plot(
                    [x] * len(values),
                    [v - b for b, v in zip(reference, values)],
                    'k.',
                    markersize=3)
        ax.axhline(0, color='k', linewidth=0.8)
        ax.set_xticks(range(len(metrics)), metrics)
        ax.set_ylabel(f'run minus {baseline} (points), same seed')
        ax.set_title(f'{split} split, {len(base)} seeds', fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, bbox_inches='tight')
    plt.close(fig)
