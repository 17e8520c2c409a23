"""The reporting helpers of tools/experiments/reproduce_digits.py."""
import statistics

import numpy as np
from tool_runs import load_tool

SCRIPT = 'experiments/reproduce_digits.py'


def test_table_reports_population_mean_and_std():
    script = load_tool(SCRIPT)
    runs = [{
        'mIoU': v,
        'feature_ratio': r
    } for v, r in ((50.0, 0.2), (60.0, 0.4), (70.0, 0.3))]
    text = script.table({'ce, x': runs}, ['mIoU', 'feature_ratio'])
    row = text.splitlines()[2]
    std = float(np.std([50.0, 60.0, 70.0]))  # numpy's default is population
    assert f'60.00 +/- {std:.2f}' in row
    assert f'{statistics.mean([0.2, 0.4, 0.3]):.3f} +/- ' \
           f'{float(np.std([0.2, 0.4, 0.3])):.3f}' in row
    assert row.endswith('| 50.00, 60.00, 70.00 |')
    assert text.splitlines()[0].startswith('| run | mIoU | feature_ratio |')


def test_table_marks_missing_metrics():
    script = load_tool(SCRIPT)
    text = script.table({'a': [{
        'accuracy/top1': 90.0
    }]}, ['accuracy/top1', 'feature_ratio'])
    assert text.splitlines()[0].startswith('| run | top1 |')
    assert '| a | 90.00 +/- 0.00 | - | 90.00 |' in text


def test_label_subset_keeps_every_kth_training_image(tmp_path):
    script = load_tool(SCRIPT)
    src = tmp_path / 'src'
    for split, count in (('train', 25), ('val', 4)):
        folder = src / split / '3'
        folder.mkdir(parents=True)
        for i in range(count):
            (folder / f'{i:04d}.png').write_bytes(b'x')
    dst = script.label_subset(str(src), str(tmp_path / 'dst'), 10)
    assert sorted(p.name for p in (tmp_path / 'dst/train/3').iterdir()) == [
        '0000.png', '0010.png', '0020.png'
    ]
    assert len(list((tmp_path / 'dst/val/3').iterdir())) == 4
    assert dst == str(tmp_path / 'dst')
