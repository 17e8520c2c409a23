"""tools/experiments/paired.py: paired differences and their reports."""
import importlib.util
import os.path as osp
import statistics

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
_spec = importlib.util.spec_from_file_location(
    'paired', osp.join(REPO, 'tools', 'experiments', 'paired.py'))
paired = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(paired)
paired_difference = paired.paired_difference
grouped_difference = paired.grouped_difference
paired_plot, paired_table = paired.paired_plot, paired.paired_table


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


def test_grouped_difference_counts_groups():
    """Within each group, the paired difference; over groups, the mean and
    standard error of the groups' means (checked against statistics)."""
    base = [90.0, 91.5, 89.0, 92.0, 90.5, 88.0]
    variant = [91.0, 91.0, 90.5, 93.5, 92.0, 91.0]
    groups = ['a', 'a', 'b', 'b', 'c', 'c']
    got = grouped_difference(base, variant, groups)
    means = [
        statistics.mean([1.0, -0.5]),
        statistics.mean([1.5, 1.5]),
        statistics.mean([1.5, 3.0])
    ]
    assert list(got['groups']) == ['a', 'b', 'c']
    assert got['groups']['b'] == paired_difference([89.0, 92.0], [90.5, 93.5])
    assert got['n'] == 3
    assert got['mean'] == pytest.approx(statistics.mean(means))
    assert got['se'] == pytest.approx(statistics.stdev(means) / 3**0.5)
    with pytest.raises(ValueError, match='one group per pair'):
        grouped_difference(base, variant, groups[:-1])


def test_grouped_se_never_below_the_within_group_noise():
    """Close group means, noisy pairs: the standard error is the truncated
    random-effects one, sqrt(max(MS_between, MS_within) / N) for a balanced
    design (one-way ANOVA mean squares, computed here directly)."""
    diffs = {
        'a': [1.0, -1.0, 2.0],
        'b': [0.0, 1.0, 0.5],
        'c': [2.0, -1.0, 0.4]
    }
    groups = [g for g, ds in diffs.items() for _ in ds]
    variant = [d for ds in diffs.values() for d in ds]
    base = [0.0] * len(variant)
    got = grouped_difference(base, variant, groups)
    m, g = 3, 3
    means = [statistics.mean(ds) for ds in diffs.values()]
    ms_between = m * statistics.variance(means)
    ms_within = statistics.mean(
        statistics.variance(ds) for ds in diffs.values())
    assert ms_within > ms_between  # the case the floor is for
    assert got['se'] == pytest.approx((ms_within / (m * g))**0.5)
    assert got['se_between'] == pytest.approx((ms_between / (m * g))**0.5)
    assert got['dof'] == m * g - g
    from scipy.stats import t
    assert got['ci95'] == pytest.approx(t.ppf(0.975, 6) * got['se'])


def test_table_and_plot_with_groups(tmp_path):
    results = {
        'ce': {
            'test': [{
                'top1': v
            } for v in (70, 71, 72, 73)]
        },
        'core': {
            'test': [{
                'top1': v
            } for v in (70, 72, 75, 77)]
        }
    }
    table = paired_table(results, 'ce', 'test', ['top1'], [0, 0, 1, 1],
                         'pre-training')
    assert '| core minus ce, pre-training 0 | +0.50 +/- 0.50 |' in table
    assert '| core minus ce, pre-training 1 | +3.50 +/- 0.50 |' in table
    # se: between pre-trainings (1.50, dof 1) beats within (0.35)
    assert ('| core minus ce, over pre-trainings | +2.00 +/- 1.50 '
            '[-17.06, +21.06] |') in table
    assert '4 paired seeds from 2 pre-trainings' in table
    # one group: the plain table
    assert 'over' not in paired_table(results, 'ce', 'test', ['top1'],
                                      [0, 0, 0, 0])
    path = tmp_path / 'plot.png'
    paired_plot(results, 'ce', ['test'], ['top1'], str(path), [0, 0, 1, 1],
                'pre-training')
    from PIL import Image
    with Image.open(path) as image:
        assert image.format == 'PNG' and image.width > image.height
