"""Paired-seed comparison of a variant against a baseline."""
import math
from typing import Dict, Hashable, List, Optional, Sequence

__all__ = [
    'paired_difference', 'grouped_difference', 't_interval', 'paired_table',
    'paired_plot'
]


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


def t_interval(se: float, dof: float, level: float = 0.95) -> float:
    """Half-width of a two-sided Student-t interval: ``t_{dof} * se``."""
    if not (math.isfinite(se) and dof >= 1):
        return float('nan')
    from scipy.stats import t
    return float(t.ppf(0.5 + level / 2, dof)) * se


def grouped_difference(baseline: Sequence[float], variant: Sequence[float],
                       groups: Sequence[Hashable]) -> Dict:
    """Paired differences within each group (e.g. the pre-training checkpoint
    the seeds fine-tune from) and their mean over the groups.

    Pairs of one group share more than their seed, so the spread of the
    group means measures the uncertainty about another group; but with few
    groups that spread can come out far below the noise of a single pair.
    The standard error is therefore the larger of the two estimates, the
    random-effects one with its between-group variance truncated at zero:
    ``se = max(sd(group means) / sqrt(G), sqrt(s_w^2 / N))``, where ``s_w^2``
    is the pooled within-group variance of the N pairs' differences.

    Args:
        baseline (Sequence[float]): The baseline's metric per pair.
        variant (Sequence[float]): The variant's metric per pair.
        groups (Sequence[Hashable]): The group of each pair.

    Returns:
        dict: ``groups`` (``{group: paired_difference(...)}`` in order of
        appearance), ``mean`` (the mean of the groups' means), ``se`` (the
        larger estimate above; NaN when neither exists), ``se_between`` and
        ``se_within`` (the two estimates), ``dof`` (degrees of freedom of
        the one used), ``ci95`` (half-width of the 95 % t interval), ``n``
        (the number of groups) and ``pairs`` (N).
    """
    if len(groups) != len(baseline):
        raise ValueError('grouped_difference: expected one group per pair, '
                         f'got {len(groups)} groups for {len(baseline)} '
                         'pairs')
    by_group = {}
    residuals = []
    for group in dict.fromkeys(groups):
        members = [i for i, g in enumerate(groups) if g == group]
        by_group[group] = paired_difference([baseline[i] for i in members],
                                            [variant[i] for i in members])
        residuals += [
            variant[i] - baseline[i] - by_group[group]['mean'] for i in members
        ]
    summary = paired_difference([0.0] * len(by_group),
                                [d['mean'] for d in by_group.values()])
    num_groups, pairs = len(by_group), len(baseline)
    within_dof = pairs - num_groups
    se_within = math.sqrt(sum(r * r for r in residuals) / within_dof /
                          pairs) if within_dof > 0 else float('nan')
    se_between = summary['se']
    candidates = [(se, dof) for se, dof in ((se_between, num_groups - 1),
                                            (se_within, within_dof))
                  if math.isfinite(se)]
    se, dof = max(candidates) if candidates else (float('nan'), 0)
    return dict(
        groups=by_group,
        mean=summary['mean'],
        se=se,
        se_between=se_between,
        se_within=se_within,
        dof=dof,
        ci95=t_interval(se, dof),
        n=num_groups,
        pairs=pairs)


Runs = Dict[str, Dict[str, List[Dict[str, float]]]]


def _cell(diff: Dict[str, float]) -> str:
    text = f'{diff["mean"]:+.2f} +/- {diff["se"]:.2f}'
    if math.isfinite(diff.get('ci95', float('nan'))):
        low, high = diff['mean'] - diff['ci95'], diff['mean'] + diff['ci95']
        text += f' [{low:+.2f}, {high:+.2f}]'
    return text


def paired_table(results: Runs,
                 baseline: str,
                 split: str,
                 metrics: Sequence[str],
                 groups: Optional[Sequence[Hashable]] = None,
                 group_name: str = 'group') -> str:
    """Markdown: the baseline's mean, then each run's paired difference to
    it (mean +/- standard error over seeds) for every metric.

    With ``groups`` naming more than one group, each run gets a row per
    group and a row over the groups (:func:`grouped_difference`).

    Args:
        results (dict): ``{run: {split: [metrics of each seed]}}``, seeds in
            the same order for every run.
        baseline (str): The run the others are compared with.
        split (str): Which split to report.
        metrics (Sequence[str]): Metric keys.
        groups (Sequence, optional): The group of each seed's pair, e.g. its
            pre-training checkpoint. Defaults to one group.
        group_name (str): What a group is, for the rows' names. Defaults to
            ``'group'``.
    """
    base = results[baseline][split]
    grouped = groups is not None and len(set(groups)) > 1
    lines = [
        '| run | ' + ' | '.join(metrics) + ' |',
        '|' + ' --- |' * (len(metrics) + 1), f'| {baseline} (mean) | ' +
        ' | '.join(f'{sum(r[m] for r in base) / len(base):.2f}'
                   for m in metrics) + ' |'
    ]
    for name, by_split in results.items():
        if name == baseline:
            continue
        diffs = []
        for metric in metrics:
            reference = [r[metric] for r in base]
            values = [r[metric] for r in by_split[split]]
            diffs.append(
                grouped_difference(reference, values, groups)
                if grouped else paired_difference(reference, values))
        if grouped:
            for group in diffs[0]['groups']:
                lines.append(f'| {name} minus {baseline}, {group_name} '
                             f'{group} | ' + ' | '.join(
                                 _cell(d['groups'][group])
                                 for d in diffs) + ' |')
            lines.append(f'| {name} minus {baseline}, over '
                         f'{group_name}s | ' +
                         ' | '.join(_cell(d) for d in diffs) + ' |')
        else:
            lines.append(f'| {name} minus {baseline} | ' +
                         ' | '.join(_cell(d) for d in diffs) + ' |')
    if grouped:
        note = (f'{len(base)} paired seeds from {len(set(groups))} '
                f'{group_name}s, {split} split; the last row: mean over '
                f'{group_name}s +/- the larger of the between-{group_name} '
                'and within-' + group_name + ' standard errors '
                '[95 % t interval]')
    else:
        note = f'{len(base)} paired seeds, {split} split'
    return '\n'.join(lines) + f'\n\n({note})'


def paired_plot(results: Runs,
                baseline: str,
                splits: Sequence[str],
                metrics: Sequence[str],
                path: str,
                groups: Optional[Sequence[Hashable]] = None,
                group_name: str = 'group') -> None:
    """Per-seed paired differences (dots) and their mean +/- s.e. (bars), one
    panel per split, written to ``path``.

    With ``groups`` naming more than one group, the dots take a marker per
    group and the bars show the mean +/- s.e. over the groups
    (:func:`grouped_difference`).
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    runs = [n for n in results if n != baseline]
    grouped = groups is not None and len(set(groups)) > 1
    names = list(dict.fromkeys(groups)) if grouped else [None]
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
                stats = grouped_difference(
                    reference, values, groups) if grouped else \
                    paired_difference(reference, values)
                ax.bar(
                    x,
                    stats['mean'],
                    width,
                    yerr=stats['se'],
                    color=f'C{i}',
                    alpha=0.6,
                    label=name if j == 0 else None)
                for k, group in enumerate(names):
                    members = [
                        m for m in range(len(values))
                        if not grouped or groups[m] == group
                    ]
                    ax.plot(
                        [x + (k - (len(names) - 1) / 2) * width / 8] *
                        len(members),
                        [values[m] - reference[m] for m in members],
                        'os^vDP'[k % 6],
                        color='k',
                        markersize=3,
                        label=f'{group_name} {group}'
                        if grouped and i == 0 and j == 0 else None)
        ax.axhline(0, color='k', linewidth=0.8)
        ax.set_xticks(range(len(metrics)), metrics)
        ax.set_ylabel(f'run minus {baseline} (points), same seed')
        title = f'{split} split, {len(base)} seeds'
        if grouped:
            title += f' from {len(names)} {group_name}s (bars: over ' \
                f'{group_name}s)'
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, bbox_inches='tight')
    plt.close(fig)
