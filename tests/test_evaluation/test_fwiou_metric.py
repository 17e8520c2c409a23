import numpy as np
import pytest
import torch
from mmseg.registry import METRICS

import coretune_mm  # noqa: F401

DEFAULT_SCOPE = 'mmseg'


def evaluate(preds, gts, num_classes, **kwargs):
    kwargs.setdefault('confusion_dir', '')
    metric = METRICS.build(
        dict(type='FWIoUMetric', iou_metrics=['mIoU'], **kwargs))
    metric.dataset_meta = dict(classes=[f'c{i}' for i in range(num_classes)])
    samples = [
        dict(
            pred_sem_seg=dict(data=torch.as_tensor(p)[None]),
            gt_sem_seg=dict(data=torch.as_tensor(g)[None]))
        for p, g in zip(preds, gts)
    ]
    metric.process([], samples)
    return metric.compute_metrics(metric.results)


def confusion_reference(preds,
                        gts,
                        num_classes,
                        ignore_index=255,
                        matrix=False):
    """The spec's formulas on an explicit confusion matrix."""
    m = np.zeros((num_classes, num_classes))
    for p, g in zip(preds, gts):
        for gi, pi in zip(np.ravel(g), np.ravel(p)):
            if gi != ignore_index:
                m[gi, pi] += 1
    rows, cols, diag = m.sum(1), m.sum(0), np.diag(m)
    if matrix:
        return m
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


def test_areas_are_mmsegmentations():
    """The areas read off the confusion matrix equal IoUMetric's own."""
    from mmseg.evaluation.metrics import IoUMetric

    from coretune_mm.evaluation.metrics import FWIoUMetric
    rng = np.random.default_rng(1)
    label = torch.as_tensor(rng.integers(0, 6, (30, 40)))
    label[:3] = 255
    pred = torch.as_tensor(rng.integers(0, 6, (30, 40)))
    ours = FWIoUMetric.intersect_and_union(pred, label, 6, 255)
    theirs = IoUMetric.intersect_and_union(pred, label, 6, 255)
    assert len(ours) == 5 and ours[4].sum() == 27 * 40
    for a, b in zip(ours[:4], theirs):
        assert torch.equal(a.double(), b.double())


def test_requires_miou():
    with pytest.raises(ValueError, match='mIoU'):
        METRICS.build(dict(type='FWIoUMetric', iou_metrics=['mDice']))


def test_confusion_matrix_and_classwise_iou_are_saved(tmp_path):
    import json
    rng = np.random.default_rng(1)
    gts = [rng.integers(0, 3, (6, 7)) for _ in range(2)]
    preds = [rng.integers(0, 4, (6, 7)) for _ in range(2)]
    gts[0][0] = 255
    got = evaluate(preds, gts, 4, classwise=True, confusion_dir=str(tmp_path))
    with open(tmp_path / 'confusion_1.json') as f:
        saved = json.load(f)
    m = confusion_reference(preds, gts, 4, matrix=True)
    assert np.array_equal(np.array(saved['confusion_matrix']), m)
    iou = np.diag(m) / (m.sum(0) + m.sum(1) - np.diag(m))
    for c in range(4):
        if m[c].sum() + m[:, c].sum() > 0:
            assert got[f'IoU.c{c}'] == pytest.approx(iou[c] * 100, abs=0.006)
            assert saved['iou'][f'c{c}'] == pytest.approx(
                iou[c] * 100, abs=0.006)


def test_metrics_from_confusion_against_the_reference():
    from coretune_mm.evaluation.metrics.fwiou_metric import \
        metrics_from_confusion
    rng = np.random.default_rng(2)
    gts = [rng.integers(0, 4, (9, 9)) for _ in range(2)]
    preds = [rng.integers(0, 5, (9, 9)) for _ in range(2)]
    m = confusion_reference(preds, gts, 6, matrix=True)
    got = metrics_from_confusion(m)
    for key, value in confusion_reference(preds, gts, 6).items():
        assert got[key] == pytest.approx(value), key
    assert np.isnan(got['IoU'][5])  # absent from both
