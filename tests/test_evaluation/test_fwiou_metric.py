import numpy as np
import pytest
import torch
from mmseg.registry import METRICS

import coretune_mm  # noqa: F401

DEFAULT_SCOPE = 'mmseg'


def evaluate(preds, gts, num_classes):
    metric = METRICS.build(dict(type='FWIoUMetric', iou_metrics=['mIoU']))
    metric.dataset_meta = dict(classes=[f'c{i}' for i in range(num_classes)])
    samples = [
        dict(
            pred_sem_seg=dict(data=torch.as_tensor(p)[None]),
            gt_sem_seg=dict(data=torch.as_tensor(g)[None]))
        for p, g in zip(preds, gts)
    ]
    metric.process([], samples)
    return metric.compute_metrics(metric.results)


def confusion_reference(preds, gts, num_classes, ignore_index=255):
    """The spec's formulas on an explicit confusion matrix."""
    m = np.zeros((num_classes, num_classes))
    for p, g in zip(preds, gts):
        for gi, pi in zip(np.ravel(g), np.ravel(p)):
            if gi != ignore_index:
                m[gi, pi] += 1
    rows, cols, diag = m.sum(1), m.sum(0), np.diag(m)
    with np.errstate(invalid='ignore', divide='ignore'):
        pa = diag / rows
        iou = diag / (rows + cols - diag)
    freq = rows / m.sum()
    present = freq > 0
    return dict(
        mIoU=np.nanmean(iou) * 100,
        MPA=np.nanmean(pa) * 100,
        FWIoU=(freq[present] * iou[present]).sum() * 100,
        aAcc=diag.sum() / m.sum() * 100)


def test_hand_computed_3x3():
    gt = np.array([[0, 0, 1], [1, 1, 2], [2, 2, 2]])
    pred = np.array([[0, 1, 1], [1, 0, 2], [2, 2, 1]])
    # class 3 is absent from both: it must not enter the means
    got = evaluate([pred], [gt], num_classes=4)
    assert got['MPA'] == pytest.approx(63.89, abs=0.01)
    assert got['mIoU'] == pytest.approx(49.44, abs=0.01)
    assert got['FWIoU'] == pytest.approx(54.07, abs=0.01)
    assert got['aAcc'] == pytest.approx(66.67, abs=0.01)


def test_random_maps_against_confusion_matrix():
    rng = np.random.default_rng(0)
    num_classes = 7
    gts = [rng.integers(0, 5, (20, 24)) for _ in range(3)]  # 5, 6 not in gt
    preds = [rng.integers(0, 7, (20, 24)) for _ in range(3)]
    for p, g in zip(preds, gts):
        p[p == 3] = 2  # class 3: in gt, never predicted
        p[p == 6] = 0  # class 6: absent from both
        g[:2] = 255  # ignored pixels
    expected = confusion_reference(preds, gts, num_classes)
    got = evaluate(preds, gts, num_classes)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=0.006), key


def test_requires_miou():
    with pytest.raises(ValueError, match='mIoU'):
        METRICS.build(dict(type='FWIoUMetric', iou_metrics=['mDice']))
